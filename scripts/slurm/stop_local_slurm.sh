#!/usr/bin/env bash
# Stop the single-node test cluster started by scripts/slurm/start_local_slurm.sh:
# cancel all jobs, then stop slurmd, slurmctld and munged -- only the daemons whose
# pid files that script keeps under $PLANSIM_SLURM_DIR (default /tmp/plansim-slurm).
# Idempotent: does nothing when nothing is running. Packages, /etc/slurm/slurm.conf,
# the munge key and the logs are left in place (the next start reuses them).
set -uo pipefail

SLURM_DIR="${PLANSIM_SLURM_DIR:-/tmp/plansim-slurm}"
RUN="$SLURM_DIR/run"
CONF=/etc/slurm/slurm.conf
MARKER="# written by plansim scripts/slurm/start_local_slurm.sh"
export PATH="$PATH:/usr/sbin:/sbin"

log() { printf '[local-slurm] %s\n' "$*" >&2; }

pid_of() {  # pidfile expected-comm -> prints the pid if that process is alive
  local pid
  [ -s "$1" ] || return 1
  pid="$(cat "$1" 2>/dev/null)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" != "$2" ]; then
    return 1  # a recycled pid: not ours
  fi
  printf '%s\n' "$pid"
}

stop() {  # pidfile name
  local pid
  if ! pid="$(pid_of "$1" "$2")"; then
    rm -f "$1"
    return 0
  fi
  log "stopping $2 (pid $pid)"
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 100); do  # up to 20 s
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$2 did not stop, killing it"
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$1"
}

# 1. cancel every job while the controller still answers
if grep -qF "$MARKER" "$CONF" 2>/dev/null && command -v squeue >/dev/null 2>&1 && scontrol ping >/dev/null 2>&1; then
  jobs="$(squeue -h -t PENDING,RUNNING,SUSPENDED,CONFIGURING,COMPLETING -o '%A' 2>/dev/null | sort -u | tr '\n' ' ')"
  if [ -n "${jobs// /}" ]; then
    log "cancelling jobs: $jobs"
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null
    for _ in $(seq 1 40); do  # up to 20 s for them to finish
      [ -z "$(squeue -h -t RUNNING,COMPLETING,CONFIGURING -o '%A' 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
fi

# 2. the daemons, compute side first: ours under $SLURM_DIR, and those named in the
#    slurm.conf that start_local_slurm.sh wrote (in case it used another PLANSIM_SLURM_DIR)
conf_value() { [ -f "$CONF" ] || return 0; sed -n "s/^$1=//p" "$CONF" | head -n1; }
ctld_pids=("$RUN/slurmctld.pid")
slurmd_pids=("$RUN/slurmd.pid")
munged_pids=("$RUN/munged.pid")
if grep -qF "$MARKER" "$CONF" 2>/dev/null; then
  f="$(conf_value SlurmctldPidFile)"; [ -n "$f" ] && ctld_pids+=("$f")
  f="$(conf_value SlurmdPidFile)"; [ -n "$f" ] && slurmd_pids+=("$f")
  f="$(conf_value '# MungedPidFile' | sed 's/ .*//')"; [ -n "$f" ] && munged_pids+=("$f")
fi
for f in "${slurmd_pids[@]}"; do stop "$f" slurmd; done
for f in "${ctld_pids[@]}"; do stop "$f" slurmctld; done
for f in "${munged_pids[@]}"; do stop "$f" munged; done

log "cluster stopped"
exit 0
