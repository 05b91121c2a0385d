#!/usr/bin/env bash
# Renders deploy/helm/vigil with Helm 3 for every values file (and the
# variants a user can switch to), lints it strictly, and validates every
# object against the Kubernetes 1.31 API definitions, offline
# (k8s_schema_check.mjs). Also proves the checker rejects a broken object
# and the values schema a mistyped key, and that the DaemonSet asks for
# exactly the documented capabilities, and that sensor.config and
# collector.config become files the built daemons accept, with the chart's
# flags winning over them. Tools come from scripts/install-deps.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
chart=$here/../../deploy/helm/vigil
tools=${VIGIL_TOOLS_DIR:-$HOME/.cache/vigil/tools}
helm=$tools/bin/helm
skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL: $*" >&2; exit 1; fi
  echo "SKIP: $*" >&2
  exit 77
}
[ -x "$helm" ] && [ -f "$tools/k8s-1.31.d.ts" ] || skip "no helm or Kubernetes 1.31 types in $tools (scripts/install-deps.sh)"
command -v node >/dev/null || skip "no node"
build=${VIGIL_BUILD_DIR:-$here/../../build}
sensor_bin=$build/userspace/sensor/vigil-sensor
collector_bin=$build/userspace/collector/vigil-collector
[ -x "$sensor_bin" ] && [ -x "$collector_bin" ] || skip "vigil-sensor and vigil-collector not built in $build"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$helm" version --short | grep -q '^v3\.' || { echo "FAIL: not Helm 3: $("$helm" version --short)"; exit 1; }

to_json() { python3 -c 'import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))'; }
validate() { node "$here/k8s_schema_check.mjs" "$tools/k8s-1.31.d.ts" "$tools/k8s-1.31.js" "$1"; }

fail=0
check() {  # name, helm args...
  local name=$1
  shift
  echo "== $name"
  if ! "$helm" lint --strict "$chart" "$@" >"$tmp/lint" 2>&1; then
    cat "$tmp/lint"; fail=1; return
  fi
  if ! "$helm" template vigil "$chart" --namespace vigil --kube-version 1.31.0 "$@" >"$tmp/$name.yaml"; then
    fail=1; return
  fi
  to_json <"$tmp/$name.yaml" >"$tmp/$name.json"
  validate "$tmp/$name.json" || fail=1
}

for f in "$chart"/values.yaml "$chart"/values-*.yaml; do
  check "$(basename "$f" .yaml)" -f "$f"
done
check sysadmin-fallback --set sensor.sysAdminFallback=true
check plaintext --set tls.mode=plaintext
check monitoring --set monitoring.podMonitor.enabled=true --set monitoring.serviceMonitor.enabled=true
check azure-secret --set azure.enabled=true --set azure.auth=secret --set azure.clientSecretName=s
check openshift-collector --set collector.runAsUser=null
check own-issuer --set tls.certManager.issuerRef.name=corp --set tls.certManager.issuerRef.kind=ClusterIssuer

# The examples of values.yaml, a boolean, and one key each that the chart
# also passes as a flag (the flag must win).
cat >"$tmp/config-values.yaml" <<'EOF'
sensor:
  config:
    ring-buffer-bytes: 16777216
    disable: [dns]
    file-exclude: [/var/log/]
    exit-grace: 1m
    detection: false
    node-name: from-the-file
collector:
  config:
    max-streams-per-node: 8
    file-max-files: 10
    azure-max-backoff: 2m
    log-level: debug
EOF
check config -f "$tmp/config-values.yaml"
"$helm" template vigil "$chart" --namespace vigil -f "$tmp/config-values.yaml" \
  --set sensor.config.exit-grace=2m | to_json >"$tmp/config-sensor-changed.json"

echo "== the configuration files"
python3 - "$tmp" "$sensor_bin" "$collector_bin" <<'PY' || fail=1
import hashlib, json, os, subprocess, sys
tmp, bins = sys.argv[1], {"sensor": sys.argv[2], "collector": sys.argv[3]}
load = lambda name: json.load(open(os.path.join(tmp, name)))
errors = []
def workload(objs, component):
    kind = "DaemonSet" if component == "sensor" else "Deployment"
    return [o for o in objs if o["kind"] == kind][0]["spec"]["template"]
def annotation(objs, component):
    return workload(objs, component)["metadata"].get("annotations", {}).get("checksum/config")

# No config: no ConfigMap, no mount, no annotation; the image's file stays.
plain = load("values.json")
if any(o["kind"] == "ConfigMap" for o in plain): errors.append("a ConfigMap without any config")
for component in ("sensor", "collector"):
    pod = workload(plain, component)
    if any(v["name"] == "config" for v in pod["spec"]["volumes"]): errors.append(f"{component}: config volume")
    if annotation(plain, component): errors.append(f"{component}: checksum without config")

objs = load("config.json")
want = {
    "sensor": ({"ring-buffer-bytes": "16777216", "disable": "[dns]", "file-exclude": "[/var/log/]",
                "exit-grace": "1m", "detection": "false"}, "node-name"),
    "collector": ({"max-streams-per-node": "8", "file-max-files": "10", "azure-max-backoff": "2m"}, "log-level"),
}
for component, (keys, flag_key) in want.items():
    cms = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == f"vigil-{component}-config"]
    if len(cms) != 1: errors.append(f"{component}: {len(cms)} ConfigMaps"); continue
    text = cms[0]["data"][f"{component}.yaml"]
    path = os.path.join(tmp, f"{component}.yaml")
    open(path, "w").write(text)
    pod = workload(objs, component)
    c = pod["spec"]["containers"][0]
    mount = [m for m in c["volumeMounts"] if m["name"] == "config"]
    if mount != [{"name": "config", "mountPath": f"/etc/vigil/{component}.yaml", "subPath": f"{component}.yaml",
                  "readOnly": True}]: errors.append(f"{component}: mount {mount}")
    vol = [v for v in pod["spec"]["volumes"] if v["name"] == "config"]
    if vol != [{"name": "config", "configMap": {"name": f"vigil-{component}-config"}}]:
        errors.append(f"{component}: volume {vol}")
    if not annotation(objs, component): errors.append(f"{component}: no checksum/config")
    # The real daemon, with this file and the chart's own arguments.
    run = subprocess.run([bins[component], f"--config={path}", *c["args"], "--print-config"],
                         capture_output=True, text=True)
    if run.returncode != 0: errors.append(f"{component} refused the file: {run.stderr.strip()}"); continue
    printed = {}
    for line in run.stdout.splitlines():
        if line and not line.startswith("#"):
            key, rest = line.split(": ", 1)
            printed[key] = rest.split("  # ", 1)
    for key, value in keys.items():
        got = printed.get(key)
        if not got or got[0] != value or not got[1].startswith(f"file {path}:"):
            errors.append(f"{component}: {key} is {got}, want {value} from {path}")
    if not printed.get(flag_key, ["", ""])[1].startswith("flag --"):
        errors.append(f"{component}: the chart's flag does not win for {flag_key}: {printed.get(flag_key)}")

# A changed sensor value rolls the sensors, and only them.
changed = load("config-sensor-changed.json")
if annotation(changed, "sensor") == annotation(objs, "sensor"): errors.append("sensor: config change keeps the checksum")
if annotation(changed, "collector") != annotation(objs, "collector"): errors.append("collector rolls for a sensor change")
for e in errors: print("FAIL:", e)
sys.exit(1 if errors else 0)
PY

echo "== the checker and the values schema refuse mistakes"
sed 's/hostPID: true/hostPid: true/' "$tmp/values.yaml" | to_json >"$tmp/bad.json"
if validate "$tmp/bad.json" >"$tmp/bad.out"; then
  echo "FAIL: an unknown PodSpec field passed validation"; fail=1
fi
grep -q 'hostPid: unknown field' "$tmp/bad.out" || { cat "$tmp/bad.out"; fail=1; }
if "$helm" template vigil "$chart" --set sensor.capabilites[0]=BPF >/dev/null 2>"$tmp/schema.err"; then
  echo "FAIL: a mistyped values key was accepted"; fail=1
fi
grep -q "capabilites" "$tmp/schema.err" || { cat "$tmp/schema.err"; fail=1; }

echo "== the sensor's privileges"
python3 - "$tmp/values.json" "$tmp/sysadmin-fallback.json" <<'PY' || fail=1
import json, sys
def sensor(path):
    ds = [o for o in json.load(open(path)) if o["kind"] == "DaemonSet"][0]
    return ds["spec"]["template"]["spec"]
errors = []
pod = sensor(sys.argv[1])
c = pod["containers"][0]
sc = c["securityContext"]
want = ["BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE"]
if sc["capabilities"] != {"drop": ["ALL"], "add": want}: errors.append(f"capabilities {sc['capabilities']}")
for k, v in {"privileged": False, "readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False}.items():
    if sc.get(k) != v: errors.append(f"securityContext.{k} is {sc.get(k)}")
if pod.get("hostPID") is not True: errors.append("no hostPID")
if pod.get("hostNetwork"): errors.append("hostNetwork")
if pod["priorityClassName"] != "system-node-critical": errors.append("priority")
if {"operator": "Exists"} not in pod["tolerations"]: errors.append("not every taint tolerated")
env = {e["name"]: e for e in c["env"]}
if env["NODE_NAME"].get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "spec.nodeName": errors.append("NODE_NAME")
hosts = sorted(v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v)
if hosts != sorted(["/sys/kernel/btf", "/sys/kernel/tracing", "/sys/fs/bpf", "/sys/fs/cgroup", "/var/lib/vigil/spool",
                    "/run/containerd/containerd.sock"]): errors.append(f"host mounts {hosts}")
ro = {m["name"]: m.get("readOnly", False) for m in c["volumeMounts"]}
vols = {v["name"]: v for v in pod["volumes"]}
for name, readonly in ro.items():
    if "hostPath" in vols[name] and name != "spool" and not readonly: errors.append(f"{name} is writable")
for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
    if c[probe]["httpGet"]["path"] != path: errors.append(probe)
if not any(a.startswith("--metrics-address=0.0.0.0:") for a in c["args"]): errors.append("metrics not reachable by the kubelet")
fallback = sensor(sys.argv[2])["containers"][0]["securityContext"]
if fallback["capabilities"]["add"] != ["SYS_RESOURCE", "SYS_PTRACE", "SYS_ADMIN"]:
    errors.append(f"fallback capabilities {fallback['capabilities']}")
for e in errors: print("FAIL:", e)
sys.exit(1 if errors else 0)
PY
[ $fail = 0 ] && echo "chart: PASS"
exit $fail
