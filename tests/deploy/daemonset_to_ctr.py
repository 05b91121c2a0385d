#!/usr/bin/env python3
"""Turns a container of the rendered chart (JSON list of objects) into `ctr run`
flags that give it exactly what the pod spec asks for: the capabilities it
adds (every other one dropped), its read-only root, its seccomp profile, its
host mounts (read-only where the pod says so), hostPID, its environment and
its arguments. The kubelet does the same translation on a node.

  daemonset_to_ctr.py OBJECTS.json KIND/NAME CONTAINER [--drop-cap CAP]
      [--set-arg --flag=value ...] [--env NAME=value ...]

Prints one flag per line, then "--", then the command and arguments.
"""
import argparse
import json
import sys

# The capabilities ctr's default spec grants; all of them go, like `drop: [ALL]`.
CTR_DEFAULT_CAPS = ["CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
                    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE"]

ap = argparse.ArgumentParser()
ap.add_argument("objects")
ap.add_argument("workload")
ap.add_argument("container")
ap.add_argument("--drop-cap", action="append", default=[])
ap.add_argument("--set-arg", action="append", default=[])
ap.add_argument("--env", action="append", default=[])
a = ap.parse_args()

kind, name = a.workload.split("/")
obj = next(o for o in json.load(open(a.objects)) if o["kind"] == kind and o["metadata"]["name"] == name)
pod = obj["spec"]["template"]["spec"]
c = next(c for c in pod["containers"] if c["name"] == a.container)
sc = c.get("securityContext", {})
psc = pod.get("securityContext", {})
flags = []

if sc.get("privileged"):
    sys.exit("the container is privileged")
caps = sc.get("capabilities", {})
if caps.get("drop") != ["ALL"]:
    sys.exit(f"capabilities.drop is {caps.get('drop')}, not [ALL]")
for cap in CTR_DEFAULT_CAPS:
    flags.append(f"--cap-drop=CAP_{cap}")
for cap in caps.get("add", []):
    if cap not in a.drop_cap:
        flags.append(f"--cap-add=CAP_{cap}")
if sc.get("readOnlyRootFilesystem"):
    flags.append("--read-only")
seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
if seccomp == "RuntimeDefault":
    flags.append("--seccomp")
elif seccomp not in (None, "Unconfined"):
    sys.exit(f"seccomp profile {seccomp} is not handled")
if pod.get("hostPID"):
    flags.append("--with-ns=pid:/proc/1/ns/pid")
if pod.get("hostNetwork"):
    flags.append("--net-host")

volumes = {v["name"]: v for v in pod.get("volumes", [])}
for m in c.get("volumeMounts", []):
    v = volumes[m["name"]]
    if "hostPath" in v:
        src = v["hostPath"]["path"]
    elif "emptyDir" in v:
        src = f"@emptydir/{m['name']}"  # the caller makes a fresh directory
    else:
        sys.exit(f"volume {m['name']} is neither hostPath nor emptyDir")
    opts = "rbind:ro" if m.get("readOnly") else "rbind:rw"
    flags.append(f"--mount=type=bind,src={src},dst={m['mountPath']},options={opts}")

env = {}
for e in c.get("env", []):
    if "value" in e:
        env[e["name"]] = e["value"]
for kv in a.env:
    k, v = kv.split("=", 1)
    env[k] = v
for k, v in env.items():
    flags.append(f"--env={k}={v}")

args = list(c.get("args", []))
for s in a.set_arg:
    key = s.split("=", 1)[0]
    args = [x for x in args if x.split("=", 1)[0] != key] + [s]
args = [x.replace("$(NODE_NAME)", env.get("NODE_NAME", "")) for x in args]
print("\n".join(flags + ["--"] + c["command"] + args))
