#!/usr/bin/env python3
"""Where the CPU went while `bench overload`'s canary waited: a scheduler trace read gap by gap.

Record the bench under the kernel's scheduler tracepoints, on the clock the JVM's System.nanoTime uses:

    perf sched record -k CLOCK_MONOTONIC -o sched.data -- bin/engine bench overload --json 2> bench.err
    perf sched timehist -i sched.data > timehist.txt
    python3 tools/sched_gaps.py timehist.txt bench.err

The bench prints, on standard error, each canary run's thread and CLOCK_MONOTONIC window
("overload: canary storm: thread T, CLOCK_MONOTONIC a to b s"), the storm process's pid and, in its last line, the
server's pid. A token reaching the canary wakes its thread, so the thread's wake-ups are the token arrivals; the gaps
between them are the canary's gaps as the bench measures them (a wake-up that brings no token splits a gap, so the
median here can be below the bench's). For the largest gaps of each run, and for the whole run, this sums the CPU
time every thread on the machine ran inside the window, grouped by process (server, bench, storm process, other)
and role (decode: the work loop and ONNX Runtime's threads; eventloop; jit; gc/vm; ...). N CPUs give N ms of CPU
per ms of gap.

Needs only the Python standard library; `perf` (linux-perf) records and prints the trace.
"""
import argparse
import collections
import re
import statistics

LINE = re.compile(r'^\s*([\d.]+)\s+\[(\d+)\]\s+(.+?)\[(\d+)(?:/(\d+))?\]\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$')
CANARY = re.compile(r'overload: canary (\S+): thread (\d+), CLOCK_MONOTONIC ([\d.]+) to ([\d.]+) s')
STORM = re.compile(r'overload: storm process pid (\d+)')
SERVER = re.compile(r'"server":"[^"]*pid (\d+)')


def read_runs(path):
    """(start, end, name, tid, pid) of every stretch a thread ran, and the CPUs seen, from `perf sched timehist`."""
    runs, cpus = [], 1
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            t, cpu, name, tid, pid, _wait, _delay, run = m.groups()
            end = float(t)
            cpus = max(cpus, int(cpu) + 1)
            runs.append((end - float(run) / 1000, end, name.strip(), int(tid), int(pid or tid)))
    return runs, cpus


def read_bench(path):
    phases, storm, server = [], None, None
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            if m := CANARY.search(line):
                phases.append((m.group(1), int(m.group(2)), float(m.group(3)), float(m.group(4))))
            if m := STORM.search(line):
                storm = int(m.group(1))
            if m := SERVER.search(line):
                server = int(m.group(1))
    return phases, storm, server


def role(name, process):
    if 'CompilerThre' in name:
        return 'jit'
    if name.startswith(('GC Thread', 'G1 ', 'VM Thread')):
        return 'gc/vm'
    if process == 'server' and (name == 'tessera-loop' or name == 'java' or name.startswith('tessera-attenti')):
        return 'decode'
    for prefix, what in (('vert.x-eventloo', 'eventloop'), ('tessera-output', 'output'),
                         ('grpc-default-wo', 'transport'), ('nioEventLoopGro', 'transport'),
                         ('huge-prompts', 'storm'), ('grpc-default-ex', 'grpc-executor')):
        if name.startswith(prefix):
            return what
    return name


def breakdown(runs, pids, a, b):
    total = collections.Counter()
    for start, end, name, _tid, pid in runs:
        overlap = min(end, b) - max(start, a)
        if overlap > 0:
            process = pids.get(pid, 'other')
            total[f'{process}:{role(name, process)}'] += overlap
    return total


def describe(counter, top):
    return ', '.join(f'{k} {v * 1000:.1f}' for k, v in counter.most_common(top))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('timehist', help='output of perf sched timehist')
    ap.add_argument('bench_err', help="bench overload's standard error")
    ap.add_argument('--gaps', type=int, default=5, help='largest gaps shown per canary run (default 5)')
    args = ap.parse_args()
    runs, cpus = read_runs(args.timehist)
    phases, storm, server = read_bench(args.bench_err)
    if not phases:
        raise SystemExit('no "overload: canary" lines in ' + args.bench_err)
    pids = {}
    if server:
        pids[server] = 'server'
    if storm:
        pids[storm] = 'storm-process'
    for phase, tid, a, b in phases:
        bench = next((pid for _s, _e, _n, t, pid in runs if t == tid), None)
        if bench:
            pids.setdefault(bench, 'bench')
        wakes = sorted(start for start, _e, _n, t, _p in runs if t == tid and a - 1e-4 <= start <= b + 1e-4)
        gaps = [(wakes[i - 1], wakes[i]) for i in range(1, len(wakes))]
        if not gaps:
            print(f'== {phase}: no wake-ups of thread {tid} in the trace')
            continue
        sizes = [e - s for s, e in gaps]
        print(f'== {phase}: {len(gaps)} gaps between wake-ups of thread {tid}, median {statistics.median(sizes) * 1000:.2f}'
              f' ms, largest {max(sizes) * 1000:.1f} ms; CPU-ms inside each gap by process:role')
        for s, e in sorted(gaps, key=lambda g: g[1] - g[0], reverse=True)[:args.gaps]:
            print(f'  {(e - s) * 1000:5.1f} ms at {s:.4f}: {describe(breakdown(runs, pids, s, e), 7)}')
        whole = breakdown(runs, pids, a, b)
        print(f'  whole run ({(b - a) * 1000:.0f} ms, {cpus * (b - a) * 1000:.0f} CPU-ms on {cpus} CPUs): '
              f'{describe(whole, 10)}')


if __name__ == '__main__':
    main()
