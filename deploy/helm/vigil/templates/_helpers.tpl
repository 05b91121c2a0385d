{{- define "vigil.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "vigil.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "vigil.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "vigil.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The collector address sensors dial: the headless Service, so every
     sensor resolves all replicas and connections spread across them. */}}
{{- define "vigil.collectorAddress" -}}
{{ include "vigil.fullname" . }}-collector-headless.{{ .Release.Namespace }}.svc:{{ .Values.collector.grpcPort }}
{{- end -}}

{{- define "vigil.issuerRef" -}}
{{- if .Values.tls.certManager.issuerRef.name -}}
{{ toYaml .Values.tls.certManager.issuerRef }}
{{- else -}}
name: {{ include "vigil.fullname" . }}-ca
kind: Issuer
group: cert-manager.io
{{- end -}}
{{- end -}}

{{/* A daemon's configuration file (docs/configuration.md) from its values'
     `config` map: one key per line, sorted, each value as JSON (which YAML
     reads as is). JSON because Helm reads numbers in values files as
     floats, which toYaml would write as 1.6777216e+07; toJson writes them
     as the integers they are. */}}
{{- define "vigil.configFile" -}}
{{- range $i, $key := keys . | sortAlpha }}
{{- if $i }}{{ "\n" }}{{ end }}
{{- $key }}: {{ toJson (get $ $key) }}
{{- end }}
{{- end -}}
