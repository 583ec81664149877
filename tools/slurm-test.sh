#!/usr/bin/env bash
# The Slurm bar of issue 18, for real: starts a one-node Slurm cluster on localhost (Debian's
# slurm-wlm and munge: munged, slurmctld, slurmd, a minimal slurm.conf made here), writes the jobs
# of a 3-class all-ordered DeepDIG run (6 ordered pairs, few training steps) with
# `borderline slurm-script --shards 3`, submits them (a 3-task job array and a merge job that
# depends on it with --dependency=afterok), runs the same run in one process meanwhile, and checks
# with `borderline compare` that the merged folder equals it. Stops its daemons and removes its
# files whatever happens. Needs root (apt-get, daemons) and a built release CLI.
#
#   bash tools/slurm-test.sh            # tools/test.sh runs it before the XCTest suites
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
borderline=${BORDERLINE_CLI:-$repo/.build/release/borderline}
[ -x "$borderline" ] || { echo "slurm-test: no borderline executable at $borderline (swift build -c release first)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "slurm-test: needs root (apt-get, munged, slurmctld, slurmd)" >&2; exit 2; }
start=$(date +%s)

# Packages, once per machine.
missing=()
for p in slurm-wlm munge; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
  echo "slurm-test: installed ${missing[*]}"
fi

work=$(mktemp -d /tmp/borderline-slurm.XXXXXX)
export SLURM_CONF=$work/slurm.conf
cleanup() {
  status=$?
  if [ -f "$work/slurm.conf" ]; then scontrol shutdown >/dev/null 2>&1 || true; fi
  for pidfile in "$work/state/slurmctld.pid" "$work/spool/slurmd.pid" "$work/munge/munged.pid"; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  sleep 1
  if [ "$status" -ne 0 ]; then
    echo "slurm-test: FAILED (status $status); logs:" >&2
    tail -n 30 "$work"/log/*.log "$work"/run.slurm/logs/*.out 2>/dev/null >&2 || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
mkdir -p "$work/munge" "$work/state" "$work/spool" "$work/log"
chmod 700 "$work/munge"

# munge: its own key and socket.
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$work/munge/munge.key"
munged --force --key-file="$work/munge/munge.key" --socket="$work/munge/munge.socket" --pid-file="$work/munge/munged.pid" \
  --log-file="$work/munge/munged.log" --seed-file="$work/munge/munged.seed"

# One node: this machine, every core; ports unlikely to be taken.
host=$(hostname -s)
port=$((20000 + RANDOM % 20000))
cat > "$SLURM_CONF" <<EOF
ClusterName=borderline-ci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool/slurmd-%n
SlurmctldPidFile=$work/state/slurmctld.pid
SlurmdPidFile=$work/spool/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
MinJobAge=600
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=2000 State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 1 60); do
  state=$(sinfo -h -o %T 2>/dev/null || true)
  [ "$state" = "idle" ] && break
  sleep 0.5
done
[ "$state" = "idle" ] || { echo "slurm-test: the node did not come up (state '$state')" >&2; exit 1; }
echo "slurm-test: one-node cluster up ($host, $(nproc) CPUs) after $(( $(date +%s) - start )) s"

# The run: 3 classes, both directions of each pair (3 boundaries), short DeepDIG training.
cat > "$work/run.yaml" <<'EOF'
plugins: [deepdig]
pairs: [all-ordered]
classes: [Trouser, Pullover, Sneaker]
seed: 5
images_per_class: 60
options:
  deepdig:
    steps: 150
    max-samples: 60
    points: 20
    k: 10
    m: 10
    train-points: 200
    grid-rows: 2
EOF
"$borderline" slurm-script --config "$work/run.yaml" --shards 3 --out "$work/merged" --scripts "$work/run.slurm" \
  --cpus-per-task 1 --time 20:00
grep -q -- "--array=0-2" "$work/run.slurm/shards.sbatch"
grep -q -- "--dependency=afterok:" "$work/run.slurm/submit.sh"
bash "$work/run.slurm/submit.sh"
read -r array merge < "$work/run.slurm/jobs.txt"

# The same run in one process, while Slurm works, with the tasks' thread count (OpenBLAS's
# threaded sgemm sums in another order: results are reproducible for a given BORDERLINE_THREADS).
BORDERLINE_THREADS=1 "$borderline" run --config "$work/run.yaml" --out "$work/whole" --quiet >/dev/null &
single=$!

job_state() { scontrol show job "$1" -o 2>/dev/null | tr ' ' '\n' | sed -n 's/^JobState=//p' | sort -u | tr '\n' ' '; }
deadline=$(( $(date +%s) + 240 ))
while :; do
  s=$(job_state "$merge")
  case "$s" in
    *COMPLETED*) break ;;
    *FAILED*|*CANCELLED*|*TIMEOUT*|*NODE_FAIL*|*OUT_OF_MEMORY*) echo "slurm-test: merge job $merge ended $s; shards: $(job_state "$array")" >&2; exit 1 ;;
  esac
  if [ "$(date +%s)" -gt "$deadline" ]; then echo "slurm-test: merge job $merge still '$s' after 240 s; shards: $(job_state "$array")" >&2; exit 1; fi
  sleep 1
done
shards=$(job_state "$array")
[ "$shards" = "COMPLETED " ] || { echo "slurm-test: shard tasks ended '$shards'" >&2; exit 1; }
wait "$single"
for i in 0 1 2; do [ -f "$work/merged.shards/$i/pairs/run.json" ] || { echo "slurm-test: shard $i folder missing" >&2; exit 1; }; done
"$borderline" compare "$work/whole" "$work/merged"
ls "$work/merged/images" | grep -q "deepdig-heatmap-boundary-idc" || { echo "slurm-test: no all-pairs heatmap in the merged run" >&2; exit 1; }
echo "slurm-test: 3-task array + dependent merge == the run in one process ($(( $(date +%s) - start )) s)"
