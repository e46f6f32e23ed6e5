{{/*
The agent's workload: its volume, CA bundles and Deployment. Installed directly (the
release's cluster, `cluster`, and the token Secret `token.existingSecret`) or as the
addon's manifests (addon.yaml: the cluster is the addon's CLUSTER_NAME, and the token comes
from the hub cluster by `cclm spoke fetch-token` with the addon's hub credentials).
Called with a dict: root (the chart's context), namespace, cluster, addon (bool).
*/}}
{{- define "cclm-spoke.agent" }}
{{- $v := .root.Values }}
{{- if not $v.persistence.existingClaim }}
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: cclm-spoke-agent
  namespace: {{ $.namespace }}
  labels:
    {{- include "cclm-spoke.labels" $.root | nindent 4 }}
  annotations:
    # The journal of accepted migrations outlives the release.
    helm.sh/resource-policy: keep
spec:
  accessModes: [{{ $v.persistence.accessMode }}]
  {{- with $v.persistence.storageClass }}
  storageClassName: {{ . }}
  {{- end }}
  resources:
    requests:
      storage: {{ $v.persistence.size }}
{{- end }}
---
{{- if or $v.hub.caBundle $v.apiServer.caBundle }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: cclm-spoke-agent-ca
  namespace: {{ $.namespace }}
  labels:
    {{- include "cclm-spoke.labels" $.root | nindent 4 }}
data:
  {{- with $v.hub.caBundle }}
  hub-ca.crt: |
    {{- . | nindent 4 }}
  {{- end }}
  {{- with $v.apiServer.caBundle }}
  api-ca.crt: |
    {{- . | nindent 4 }}
  {{- end }}
{{- end }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cclm-spoke-agent
  namespace: {{ $.namespace }}
  labels:
    {{- include "cclm-spoke.labels" $.root | nindent 4 }}
spec:
  # One agent per cluster: its journal is on a ReadWriteOnce volume, and two executors must
  # never act on the same migration, so the old pod is gone before the new one starts.
  replicas: 1
  strategy:
    type: Recreate
  selector:
    matchLabels:
      {{- include "cclm-spoke.selectorLabels" $.root | nindent 6 }}
  template:
    metadata:
      {{- with $v.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      labels:
        {{- include "cclm-spoke.selectorLabels" $.root | nindent 8 }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: cclm-spoke
      {{- with $v.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $v.podSecurityContext | nindent 8 }}
      {{- if .addon }}
      # The token, copied from the hub cluster before the agent starts (the addon framework
      # mounts its hub credentials into the containers, not into init containers).
      initContainers:
        - {{- include "cclm-spoke.fetchToken" (dict "root" $.root "every" "") | nindent 10 }}
          volumeMounts:
            - name: token
              mountPath: /etc/cclm/token
            - name: hub-credentials
              mountPath: /managed/hub-kubeconfig
              readOnly: true
      {{- end }}
      containers:
        {{- if .addon }}
        # ...and kept current: a token the hub replaced is read at the agent's next request.
        - {{- include "cclm-spoke.fetchToken" (dict "root" $.root "every" "60") | nindent 10 }}
          volumeMounts:
            - name: token
              mountPath: /etc/cclm/token
        {{- end }}
        - name: agent
          image: {{ printf "%s:%s" $v.image.repository (default $.root.Chart.AppVersion $v.image.tag) }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          args:
            - spoke
            - run
            - --hub={{ $v.hub.url }}
            - --cluster={{ $.cluster }}
            - --token-file=/etc/cclm/token/token
            - --state-dir=/var/lib/cclm-spoke
            - --health-port=8481
            - --heartbeat={{ $v.heartbeatSeconds }}
            - --grant-namespace={{ $.namespace }}
            - --rsync-image={{ $v.rsync.image }}
            {{- if $v.hub.caBundle }}
            - --ca-file=/etc/cclm/ca/hub-ca.crt
            {{- end }}
            {{- with $v.apiServer.url }}
            - --api-url={{ . }}
            {{- if $v.apiServer.caBundle }}
            - --api-ca-file=/etc/cclm/ca/api-ca.crt
            {{- else }}
            - --api-ca-file=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt
            {{- end }}
            {{- end }}
            {{- range $cluster, $url := $v.syncAddresses }}
            - --sync-address={{ $cluster }}={{ $url }}
            {{- end }}
            {{- range $class, $pool := $v.storagePools }}
            - --storage-pool={{ $class }}={{ $pool }}
            {{- end }}
            {{- range $class, $ratio := $v.filesystemOverheads }}
            - --filesystem-overhead={{ $class }}={{ $ratio }}
            {{- end }}
            {{- range $v.extraArgs }}
            - {{ . | quote }}
            {{- end }}
          {{- with $v.extraEnv }}
          env:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          ports:
            - name: health
              containerPort: 8481
              protocol: TCP
          livenessProbe:
            httpGet:
              path: /healthz
              port: health
            periodSeconds: 10
            timeoutSeconds: 5
            failureThreshold: 6
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml $v.securityContext | nindent 12 }}
          volumeMounts:
            - name: state
              mountPath: /var/lib/cclm-spoke
            - name: tmp
              mountPath: /tmp
            - name: token
              mountPath: /etc/cclm/token
              readOnly: true
            {{- if or $v.hub.caBundle $v.apiServer.caBundle }}
            - name: ca
              mountPath: /etc/cclm/ca
              readOnly: true
            {{- end }}
      volumes:
        - name: state
          persistentVolumeClaim:
            claimName: {{ default "cclm-spoke-agent" $v.persistence.existingClaim }}
        - name: tmp
          emptyDir: {}
        {{- if .addon }}
        - name: token
          emptyDir:
            medium: Memory
        - name: hub-credentials
          secret:
            secretName: cclm-spoke-agent-hub-kubeconfig
        {{- else }}
        - name: token
          secret:
            secretName: {{ $v.token.existingSecret }}
            items:
              - key: {{ $v.token.existingSecretKey }}
                path: token
        {{- end }}
        {{- if or $v.hub.caBundle $v.apiServer.caBundle }}
        - name: ca
          configMap:
            name: cclm-spoke-agent-ca
        {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}

{{/* `cclm spoke fetch-token`, once (every "") or every so many seconds. */}}
{{- define "cclm-spoke.fetchToken" }}
{{- $v := .root.Values }}
name: {{ if .every }}token-refresh{{ else }}token{{ end }}
image: {{ printf "%s:%s" $v.image.repository (default .root.Chart.AppVersion $v.image.tag) }}
imagePullPolicy: {{ $v.image.pullPolicy }}
args:
  - spoke
  - fetch-token
  - --kubeconfig={{ "{{HUB_KUBECONFIG}}" }}
  - --namespace={{ "{{CLUSTER_NAME}}" }}
  - --out=/etc/cclm/token/token
  {{- with .every }}
  - --every={{ . }}
  {{- end }}
resources:
  requests:
    cpu: 5m
    memory: 64Mi
  limits:
    memory: 128Mi
securityContext:
  {{- toYaml $v.securityContext | nindent 2 }}
{{- end }}
