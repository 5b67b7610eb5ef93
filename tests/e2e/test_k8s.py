#!/usr/bin/env python3
# tier: slow (not in tools/test.sh --fast)
"""The Kubernetes recipe (examples/k8s) without a cluster.

1. Every YAML file parses (python3-yaml) and the objects fit together: an
   Indexed Job whose completions, parallelism and SHARDS agree, a merge Job
   with the same SHARDS and RUN_ID, both mounting the results claim, a
   kustomization listing them.
2. A dry render: for each index 0..N-1, the shard pod's shell command runs
   as the pod would (JOB_COMPLETION_INDEX set, the pod's env, /results on a
   temporary folder, `mlxbench` the built binary) against a local emulator,
   all at once, with a short duration and a common START_AT; then the merge
   Job's init container (the wait) and container (merge + report) run on
   the results. The merged file must hold every shard and the same request
   count as one process running the same command without --shard.
"""
import os
import subprocess
import sys
import time

try:
    import yaml
except ImportError:   # a python3 without PyYAML on PATH: use Debian's (python3-yaml)
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
    print("python3-yaml is needed (tools/deps.sh test)", file=sys.stderr)
    sys.exit(1)
import json  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mocklib import MLXBENCH, ROOT, Mock, expect, finish  # noqa: E402

K8S = os.path.join(ROOT, "examples", "k8s")


def load(name):
    with open(os.path.join(K8S, name)) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    expect(f"{name}: one YAML document", len(docs) == 1, str(len(docs)))
    return docs[0]


def env_of(container):
    out = {}
    for e in container.get("env", []):
        if "value" in e:
            out[e["name"]] = str(e["value"])
    return out


def mount_of(container, volume):
    for m in container.get("volumeMounts", []):
        if m["name"] == volume:
            return m["mountPath"]
    return None


pvc = load("pvc.yaml")
shards_job = load("job-shards.yaml")
merge_job = load("job-merge.yaml")
kust = load("kustomization.yaml")

expect("pvc: a PersistentVolumeClaim", pvc["kind"] == "PersistentVolumeClaim" and pvc["apiVersion"] == "v1")
expect("pvc: ReadWriteMany", "ReadWriteMany" in pvc["spec"]["accessModes"])
claim = pvc["metadata"]["name"]

for job in (shards_job, merge_job):
    name = job["metadata"]["name"]
    expect(f"{name}: a batch/v1 Job", job["kind"] == "Job" and job["apiVersion"] == "batch/v1")
    pod = job["spec"]["template"]["spec"]
    expect(f"{name}: restartPolicy Never", pod["restartPolicy"] == "Never")
    vols = {v["name"]: v for v in pod["volumes"]}
    expect(f"{name}: mounts the results claim",
           vols.get("results", {}).get("persistentVolumeClaim", {}).get("claimName") == claim)

spec = shards_job["spec"]
shard_pod = spec["template"]["spec"]
shard_c = shard_pod["containers"][0]
shard_env = env_of(shard_c)
N = int(shard_env["SHARDS"])
expect("shards: completionMode Indexed", spec.get("completionMode") == "Indexed")
expect(f"shards: completions == parallelism == SHARDS ({N})",
       spec["completions"] == spec["parallelism"] == N and N >= 2,
       f"{spec['completions']} {spec['parallelism']} {N}")
script = shard_c["args"][0]
expect("shards: command is sh -c", shard_c["command"] == ["sh", "-c"] and len(shard_c["args"]) == 1)
expect("shards: the shard comes from JOB_COMPLETION_INDEX",
       "JOB_COMPLETION_INDEX + 1" in script and '--shard "$i/$SHARDS"' in script)
expect("shards: one seed for every pod", "--seed \"$SEED\"" in script and shard_env.get("SEED"))

merge_pod = merge_job["spec"]["template"]["spec"]
wait_c = merge_pod["initContainers"][0]
merge_c = merge_pod["containers"][0]
expect("merge: the wait waits for SHARDS files", env_of(wait_c).get("SHARDS") == str(N))
expect("merge: same RUN_ID as the shards",
       env_of(wait_c).get("RUN_ID") == env_of(merge_c).get("RUN_ID") == shard_env.get("RUN_ID"))
expect("merge: runs mlxbench merge", "mlxbench merge" in merge_c["args"][0])
expect("kustomization lists the three objects",
       sorted(kust["resources"]) == ["job-merge.yaml", "job-shards.yaml", "pvc.yaml"])
mount = mount_of(shard_c, "results")
expect("every container mounts the volume at the same path",
       mount and mount == mount_of(wait_c, "results") == mount_of(merge_c, "results"))

# --- dry render ----------------------------------------------------------------
PROFILE = {"builtin_models": False, "any_model": True, "default_model": "fast",
           "models": {"fast": {"ttft_ms": 5, "prefill_tok_s": 0, "decode_tok_s": 400}}}
with Mock(profile=PROFILE) as mock:
    tmp = mock.tmp.name
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    os.symlink(os.path.abspath(MLXBENCH), os.path.join(bindir, "mlxbench"))
    results = os.path.join(tmp, "results")

    def render(text):
        return text.replace(mount, results)

    def pod_env(container, **extra):
        env = dict(os.environ)
        env.update(env_of(container))
        env.update(PATH=bindir + os.pathsep + os.environ["PATH"], **extra)
        return env

    # short and small: what a kustomize patch of the env would do
    load_env = dict(TARGET_URL=mock.url, DURATION="2", RATE="15", MAX_TOKENS="8",
                    START_AT=str(int(time.time()) + 2))
    procs = []
    for k in range(N):
        env = pod_env(shard_c, JOB_COMPLETION_INDEX=str(k), **load_env)
        procs.append(subprocess.Popen(["sh", "-c", render(script)], env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    for k, p in enumerate(procs):
        so, se = p.communicate(timeout=60)
        expect(f"pod index {k}: its command exits 0", p.returncode == 0, se[-2000:])
    run_dir = os.path.join(results, shard_env["RUN_ID"])
    for k in range(N):
        path = os.path.join(run_dir, f"shard-{k + 1}.json")
        expect(f"pod index {k} wrote shard-{k + 1}.json", os.path.exists(path))
        if os.path.exists(path):
            r = json.load(open(path))["runs"][0]
            expect(f"pod index {k} ran shard {k + 1}/{N}",
                   r.get("shard", {}).get("index") == k + 1 and r["shard"]["count"] == N, str(r.get("shard")))
            expect(f"pod index {k}: started at START_AT",
                   r["started_unix"] >= int(load_env["START_AT"]) - 0.01, str(r["started_unix"]))

    # the same command as one process
    one = render(script).replace('--shard "$i/$SHARDS" ', "").replace("shard-$i.json", "single.json")
    p = subprocess.run(["sh", "-c", one], env=pod_env(shard_c, JOB_COMPLETION_INDEX="0",
                                                      **dict(load_env, START_AT="")),
                       capture_output=True, text=True, timeout=60)
    expect("the unsharded command exits 0", p.returncode == 0, p.stderr[-2000:])
    single = json.load(open(os.path.join(run_dir, "single.json")))["runs"][0]
    os.rename(os.path.join(run_dir, "single.json"), os.path.join(tmp, "single.json"))

    p = subprocess.run(["timeout", "20", "sh", "-c", render(wait_c["args"][0])], env=pod_env(wait_c),
                       capture_output=True, text=True, timeout=30)
    expect("merge Job: the wait container ends once every shard is there", p.returncode == 0, p.stdout + p.stderr)
    p = subprocess.run(["sh", "-c", render(merge_c["args"][0])], env=pod_env(merge_c),
                       capture_output=True, text=True, timeout=60)
    expect("merge Job: merge + report exit 0", p.returncode == 0, p.stderr[-2000:])
    expect("merge Job: the report is in the log", "### Throughput" in p.stdout, p.stdout[:500])
    merged = json.load(open(os.path.join(run_dir, "merged.json")))["runs"][0]
    expect("merged: every shard", merged.get("shards") == {"count": N, "merged": list(range(1, N + 1))},
           str(merged.get("shards")))
    expect(f"merged: requests {merged['requests']['total']} == one process's {single['requests']['total']}",
           merged["requests"]["total"] == single["requests"]["total"] > 0)
    expect("merged: all ok, tokens equal",
           merged["requests"]["ok"] == merged["requests"]["total"] and
           merged["tokens"]["output"] == single["tokens"]["output"])
    expect("merged: same schedule (scheduled offsets, by request number)",
           sorted(q["i"] for q in merged["per_request"]) == sorted(q["i"] for q in single["per_request"]))

finish()
