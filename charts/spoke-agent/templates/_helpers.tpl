{{- define "cclm-spoke.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "cclm-spoke.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: spoke-agent
app.kubernetes.io/part-of: cclm
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "cclm-spoke.selectorLabels" -}}
app.kubernetes.io/name: cclm-spoke-agent
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Required values, refused at install in the values' own terms. */}}
{{- define "cclm-spoke.checked" -}}
{{- include "cclm-spoke.hubRequired" . }}
{{- if not .Values.cluster }}
{{- fail "cluster is required: this cluster's name as registered on the hub" }}
{{- end }}
{{- if not .Values.token.existingSecret }}
{{- fail "token.existingSecret is required: a Secret in this namespace holding the cluster's hub token (`cclm clusters token NAME` prints one)" }}
{{- end }}
{{- end }}

{{- define "cclm-spoke.hubRequired" -}}
{{- if not .Values.hub.url }}
{{- fail "hub.url is required: the hub's URL as the managed clusters reach it, such as https://cclm-hub.example.com" }}
{{- end }}
{{- end }}
