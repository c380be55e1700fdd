{{/* Labels every object carries; `app` is the app's name for the per-app objects. */}}
{{- define "beli.labels" -}}
app.kubernetes.io/part-of: beli-ntt
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{- define "beli.kafkaBootstrap" -}}
{{ .Values.kafka.name }}-kafka-bootstrap:9092
{{- end }}

{{/* Twice a CPU ("250m") or memory ("256Mi") quantity: the limit for a request. */}}
{{- define "beli.double" -}}
{{- $value := toString . -}}
{{- if hasSuffix "m" $value -}}{{ mul 2 (trimSuffix "m" $value | int) }}m
{{- else if hasSuffix "Mi" $value -}}{{ mul 2 (trimSuffix "Mi" $value | int) }}Mi
{{- else if hasSuffix "Gi" $value -}}{{ mul 2 (trimSuffix "Gi" $value | int) }}Gi
{{- else -}}{{ mul 2 ($value | int) }}
{{- end -}}
{{- end }}
