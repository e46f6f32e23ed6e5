{{/* Names and labels, as `helm create` spells them, so tooling finds them. */}}
{{- define "cclm-hub.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cclm-hub.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "cclm-hub.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "cclm-hub.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "cclm-hub.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cclm-hub.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cclm-hub.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "cclm-hub.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: hub
app.kubernetes.io/part-of: cclm
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "cclm-hub.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cclm-hub.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "cclm-hub.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "cclm-hub.scheme" -}}
{{- if .Values.tls.existingSecret }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{/* The embedded SQLite store serves one replica; refused here, in the values' terms. */}}
{{- define "cclm-hub.checked" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.database.existingSecret) }}
{{- fail (printf "replicaCount %d needs database.existingSecret (a PostgreSQL URL): replicas share one PostgreSQL database, and the embedded SQLite store serves one replica" (int .Values.replicaCount)) }}
{{- end }}
{{- if not (or .Values.database.existingSecret .Values.persistence.enabled) }}
{{- fail "persistence.enabled=false needs database.existingSecret: the embedded SQLite store on an emptyDir would lose the fleet, its tokens and every accepted migration at each restart" }}
{{- end }}
{{- if and .Values.ingress.enabled (not .Values.ingress.host) }}
{{- fail "ingress.enabled needs ingress.host: the name people and spoke agents reach the hub by" }}
{{- end }}
{{- end }}
