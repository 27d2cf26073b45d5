#!/usr/bin/env bash
# Bring up a single-node SLURM cluster on this host, for tests.
#
#   scripts/slurm/start_local_slurm.sh      # install if needed, start, wait for the node
#   scripts/slurm/stop_local_slurm.sh       # cancel jobs, stop the daemons
#
# Needs root (it may apt-get install slurm-wlm + munge, writes /etc/slurm/slurm.conf
# and starts munged, slurmctld and slurmd as plain background daemons: no systemd).
# Idempotent: when the cluster is already up it only checks that the node is usable.
#
# Environment:
#   PLANSIM_SLURM_DIR    state, spool, pid and log files     (default /tmp/plansim-slurm)
#   PLANSIM_SLURM_WAIT   seconds to wait for the node idle   (default 90)
#   PLANSIM_SLURM_FORCE  =1 to overwrite an /etc/slurm/slurm.conf this script did not write
#   PLANSIM_SLURM_CPUS   CPUs the node offers to jobs         (default: nproc). More than the
#                        host has oversubscribes it, so more short jobs start side by side
#                        (the test suite uses 8: its jobs are short, mostly start-up)
set -euo pipefail

SLURM_DIR="${PLANSIM_SLURM_DIR:-/tmp/plansim-slurm}"
WAIT_S="${PLANSIM_SLURM_WAIT:-90}"
CONF=/etc/slurm/slurm.conf
MARKER="# written by plansim scripts/slurm/start_local_slurm.sh"
MUNGE_KEY=/etc/munge/munge.key
MUNGE_SOCKET=/run/munge/munge.socket.2

log() { printf '[local-slurm] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
trap 'log "ERROR: unexpected failure at line $LINENO: $BASH_COMMAND"' ERR

[ "$(id -u)" -eq 0 ] || die "must run as root (installs packages and starts daemons)"

mkdir -p "$SLURM_DIR/log"
APT_LOG="$SLURM_DIR/log/apt.log"

# --- 1. packages ------------------------------------------------------------------
have_all() {
  local b
  for b in slurmctld slurmd sbatch squeue sinfo scontrol scancel munged mungekey munge; do
    command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || return 1
  done
}
if ! have_all; then
  log "installing slurm-wlm and munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  # update the package lists only when they do not know the packages yet
  if ! apt-cache policy slurm-wlm munge 2>/dev/null | grep -q 'Candidate: [0-9]' ||
     apt-cache policy slurm-wlm munge 2>/dev/null | grep -q 'Candidate: (none)'; then
    apt-get update -qq >>"$APT_LOG" 2>&1 || { tail -n 20 "$APT_LOG" >&2; die "apt-get update failed"; }
  fi
  if ! apt-get install -y -qq --no-install-recommends slurm-wlm munge >>"$APT_LOG" 2>&1; then
    # stale lists (a package version vanished from the mirror): refresh once, retry
    apt-get update -qq >>"$APT_LOG" 2>&1 || true
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >>"$APT_LOG" 2>&1 ||
      { tail -n 20 "$APT_LOG" >&2; die "apt-get install slurm-wlm munge failed (see $APT_LOG)"; }
  fi
  have_all || die "slurm-wlm/munge installed but binaries still missing"
fi
export PATH="$PATH:/usr/sbin:/sbin"

# --- 2. directories and slurm.conf ------------------------------------------------
mkdir -p "$SLURM_DIR"/{log,run,state/ctld,spool/slurmd,munge}
chmod 0700 "$SLURM_DIR/munge"

NODE="$(hostname -s)"
CPUS="${PLANSIM_SLURM_CPUS:-$(nproc)}"
case "$CPUS" in ''|*[!0-9]*|0) die "PLANSIM_SLURM_CPUS must be a positive integer (got '$CPUS')" ;; esac
MEM_TOTAL_MB=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 ))
# leave ~10% (at least 512 MB) to the OS and the daemons
REAL_MB=$(( MEM_TOTAL_MB - (MEM_TOTAL_MB / 10 > 512 ? MEM_TOTAL_MB / 10 : 512) ))
[ "$REAL_MB" -gt 256 ] || REAL_MB=256
# the node talks over loopback only, whatever the hostname resolves to
ADDR=127.0.0.1

new_conf="$(mktemp)"
trap 'rm -f "$new_conf"' EXIT
cat >"$new_conf" <<EOF
$MARKER
# Single-node test cluster; state and logs live under $SLURM_DIR.
ClusterName=plansim
SlurmctldHost=$NODE($ADDR)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# no cgroups: plain process tracking, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# no accounting database (status comes from squeue, hence the large MinJobAge)
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# keep finished jobs visible to squeue for an hour
MinJobAge=3600
# a node that registers with a valid configuration becomes usable again
ReturnToService=2
# the configured node size counts, not what slurmd detects
SlurmdParameters=config_overrides
KillWait=5
# no mail on this test cluster (silences "MailProg is invalid")
MailProg=/bin/true
InactiveLimit=0
Waittime=0
StateSaveLocation=$SLURM_DIR/state/ctld
SlurmdSpoolDir=$SLURM_DIR/spool/slurmd
SlurmctldPidFile=$SLURM_DIR/run/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/run/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
# MungedPidFile=$SLURM_DIR/run/munged.pid   (read by stop_local_slurm.sh)
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$NODE NodeAddr=$ADDR NodeHostname=$NODE CPUs=$CPUS RealMemory=$REAL_MB State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

conf_changed=0
conf_value() { [ -f "$CONF" ] || return 0; sed -n "s/^$1=//p" "$CONF" | head -n1; }
old_ctld_pid="$(conf_value SlurmctldPidFile)"
old_slurmd_pid="$(conf_value SlurmdPidFile)"
old_munged_pid="$(conf_value '# MungedPidFile' | sed 's/ .*//')"
if [ -f "$CONF" ] && ! grep -qF "$MARKER" "$CONF" && [ "${PLANSIM_SLURM_FORCE:-0}" != 1 ]; then
  die "$CONF exists and was not written by this script; set PLANSIM_SLURM_FORCE=1 to overwrite it"
fi
if ! cmp -s "$new_conf" "$CONF" 2>/dev/null; then
  mkdir -p "$(dirname "$CONF")"
  install -m 0644 "$new_conf" "$CONF"
  conf_changed=1
  log "wrote $CONF (node $NODE: CPUs=$CPUS RealMemory=${REAL_MB}MB)"
fi

# --- 3. helpers -------------------------------------------------------------------
pid_alive() {  # pidfile [expected comm]
  local pid
  [ -s "$1" ] || return 1
  pid="$(cat "$1" 2>/dev/null)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  if [ -n "${2:-}" ] && [ -r "/proc/$pid/comm" ]; then
    [ "$(cat "/proc/$pid/comm")" = "$2" ] || return 1
  fi
}
stop_pidfile() {  # pidfile name
  local pid
  pid_alive "$1" "$2" || { rm -f "$1"; return 0; }
  pid="$(cat "$1")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$1"
}
wait_for() {  # seconds description command...
  local limit=$1 t0; shift 2  # $2: what is waited for (for the reader)
  t0=$SECONDS
  until "$@" >/dev/null 2>&1; do
    [ $((SECONDS - t0)) -lt "$limit" ] || return 1
    sleep 0.5
  done
}
dump_logs() {
  local f
  for f in "$SLURM_DIR"/log/munged.log "$SLURM_DIR"/log/slurmctld.log "$SLURM_DIR"/log/slurmd.log \
           "$SLURM_DIR"/log/*.stdout; do
    [ -s "$f" ] || continue
    log "---- tail of $f"
    tail -n 30 "$f" >&2
  done
  sinfo -N -l >&2 2>&1 || true
  scontrol show node "$NODE" >&2 2>&1 || true
}
fail() { log "ERROR: $*"; dump_logs; exit 1; }

# --- 4. munge -----------------------------------------------------------------------
if [ ! -s "$MUNGE_KEY" ]; then
  log "creating munge key $MUNGE_KEY"
  mkdir -p "$(dirname "$MUNGE_KEY")"
  mungekey --create --keyfile="$MUNGE_KEY" --force
fi
# munged runs as root here, so the key and its directory belong to root
chown root:root "$MUNGE_KEY" "$(dirname "$MUNGE_KEY")"
chmod 0600 "$MUNGE_KEY"
chmod 0700 "$(dirname "$MUNGE_KEY")"

if [ "$conf_changed" = 1 ] && [ -n "$old_munged_pid" ] && [ "$old_munged_pid" != "$SLURM_DIR/run/munged.pid" ]; then
  stop_pidfile "$old_munged_pid" munged  # started for another PLANSIM_SLURM_DIR
fi
munge_ok() { munge -n --socket="$MUNGE_SOCKET" 2>/dev/null | unmunge --socket="$MUNGE_SOCKET" >/dev/null 2>&1; }
if ! munge_ok; then
  stop_pidfile "$SLURM_DIR/run/munged.pid" munged
  mkdir -p "$(dirname "$MUNGE_SOCKET")"
  chmod 0755 "$(dirname "$MUNGE_SOCKET")"
  rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
  log "starting munged"
  munged --key-file="$MUNGE_KEY" --socket="$MUNGE_SOCKET" \
         --pid-file="$SLURM_DIR/run/munged.pid" \
         --log-file="$SLURM_DIR/log/munged.log" \
         --seed-file="$SLURM_DIR/munge/munged.seed" \
         --force </dev/null >>"$SLURM_DIR/log/munged.stdout" 2>&1 \
    || fail "munged did not start"
  wait_for 20 munged munge_ok || fail "munged started but munge/unmunge does not work"
fi

# --- 5. slurmctld and slurmd --------------------------------------------------------
ctld_pid="$SLURM_DIR/run/slurmctld.pid"
slurmd_pid="$SLURM_DIR/run/slurmd.pid"

if [ "$conf_changed" = 1 ]; then
  # a new configuration: restart whatever runs from the old one (whose pid files may be
  # elsewhere, e.g. another PLANSIM_SLURM_DIR)
  for f in "$old_slurmd_pid" "$slurmd_pid"; do [ -n "$f" ] && stop_pidfile "$f" slurmd; done
  for f in "$old_ctld_pid" "$ctld_pid"; do [ -n "$f" ] && stop_pidfile "$f" slurmctld; done
fi

if ! pid_alive "$ctld_pid" slurmctld; then
  rm -f "$ctld_pid"
  # -c: start from a clean state (no jobs or node states from a previous run), unless
  # slurmd is still up with jobs the controller should recover from its saved state
  ctld_opts=(-c)
  if pid_alive "$slurmd_pid" slurmd; then ctld_opts=(); fi
  log "starting slurmctld ${ctld_opts[*]:-}"
  slurmctld "${ctld_opts[@]}" </dev/null >>"$SLURM_DIR/log/slurmctld.stdout" 2>&1 || fail "slurmctld did not start"
  wait_for 30 slurmctld scontrol ping || fail "slurmctld does not answer 'scontrol ping'"
fi

if ! pid_alive "$slurmd_pid" slurmd; then
  rm -f "$slurmd_pid"
  log "starting slurmd"
  slurmd -N "$NODE" </dev/null >>"$SLURM_DIR/log/slurmd.stdout" 2>&1 || fail "slurmd did not start"
fi

# --- 6. wait for the node -------------------------------------------------------------
node_state() { sinfo -h -n "$NODE" -o '%t' 2>/dev/null | head -n1; }
t0=$SECONDS
resumed=0
while :; do
  st="$(node_state)"
  case "$st" in
    idle|mix|mixed|alloc|allocated) break ;;
    down*|drain*|drng*|fail*)
      # e.g. a state left by an earlier run; ReturnToService=2 usually handles it
      if [ "$resumed" = 0 ] && [ $((SECONDS - t0)) -ge 5 ]; then
        log "node $NODE is '$st', resuming it"
        scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
        resumed=1
      fi ;;
  esac
  if [ $((SECONDS - t0)) -ge "$WAIT_S" ]; then
    fail "node $NODE not idle after ${WAIT_S}s (state: '${st:-unknown}')"
  fi
  if [ $((SECONDS - t0)) -ge 5 ]; then  # pid files are written just after the fork
    pid_alive "$ctld_pid" slurmctld || fail "slurmctld exited"
    pid_alive "$slurmd_pid" slurmd || fail "slurmd exited"
  fi
  sleep 0.5
done
log "cluster up: node $NODE is $st (state in $SLURM_DIR)"
