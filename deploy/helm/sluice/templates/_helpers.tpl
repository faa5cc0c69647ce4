{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, with the chart's unless it already holds it. */}}
{{- define "sluice.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels of every object, without the component. */}}
{{- define "sluice.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels of the gateway's objects. */}}
{{- define "sluice.labels" -}}
{{ include "sluice.commonLabels" . }}
app.kubernetes.io/component: gateway
{{- end }}

{{/* The gateway's pods; the component keeps the Redis pods out of its selectors. */}}
{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "sluice.redisLabels" -}}
{{ include "sluice.commonLabels" . }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "sluice.redisSelectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "sluice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sluice.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret with provider keys: the operator's, or the chart's when it has values. */}}
{{- define "sluice.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else if .Values.secrets.values }}
{{- include "sluice.fullname" . }}-keys
{{- end }}
{{- end }}

{{/* "true" when the pods get a REDIS_URL (empty otherwise, which tpl treats as false). */}}
{{- define "sluice.redisEnabled" -}}
{{- if or .Values.redis.enabled .Values.redis.url .Values.redis.existingSecret }}true{{ end }}
{{- end }}

{{- define "sluice.redisName" -}}
{{- include "sluice.fullname" . | trunc 57 | trimSuffix "-" }}-redis
{{- end }}

{{/* preStop sleep + drain delay + shutdown timeout + margin. */}}
{{- define "sluice.terminationGrace" -}}
{{- add .Values.drain.preStopSleepSeconds .Values.drain.drainDelaySeconds .Values.drain.shutdownTimeoutSeconds .Values.drain.graceMarginSeconds }}
{{- end }}
