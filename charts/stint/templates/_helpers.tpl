{{/* Chart name. */}}
{{- define "stint.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified app name. */}}
{{- define "stint.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Common labels. */}}
{{- define "stint.labels" -}}
app.kubernetes.io/name: {{ include "stint.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels. */}}
{{- define "stint.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stint.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Name of the webhook's Service (also the DNS name in its certificate). */}}
{{- define "stint.webhookService" -}}
{{- printf "%s-webhook" (include "stint.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of the Secret holding the webhook's serving certificate. */}}
{{- define "stint.webhookTlsSecret" -}}
{{- .Values.injector.tls.existingSecret | default (printf "%s-webhook-tls" (include "stint.fullname" .)) -}}
{{- end -}}

{{/* Image of the injected sidecar: injector.sidecar.image, else Stint's own image. */}}
{{- define "stint.sidecarImage" -}}
{{- $repository := .Values.injector.sidecar.image.repository | default .Values.image.repository -}}
{{- $tag := .Values.injector.sidecar.image.tag | default .Values.image.tag | default .Chart.AppVersion -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
