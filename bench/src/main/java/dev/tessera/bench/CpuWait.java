package dev.tessera.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How long threads ran and how long they waited for a core, from Linux's per-thread scheduler statistics
 * ({@code /proc/PID/task/TID/schedstat}: nanoseconds on a CPU, nanoseconds runnable but waiting on a run queue, and
 * the number of times the thread was given a CPU) and the machine's CPU pressure ({@code /proc/pressure/cpu}: the
 * microseconds during which at least one runnable task waited). A latency that the server's own histogram does not
 * show is time spent runnable and not running: this says how much of it there was. Empty where Linux does not
 * provide the files.
 */
final class CpuWait {
    /** Totals of a set of threads, and the machine's pressure, at one moment. */
    record Mark(long runNs, long waitNs, long slices, int threads, long pressureUs, long atNanos) {
        /** The start of a sum of spans ({@link #plus}). */
        static final Mark ZERO = new Mark(0, 0, 0, 0, 0, 0);

        /** This sum with the span from {@code before} to {@code after} added (its threads: {@code after}'s). */
        Mark plus(Mark before, Mark after) {
            return new Mark(runNs + after.runNs - before.runNs, waitNs + after.waitNs - before.waitNs,
                    slices + after.slices - before.slices, after.threads, pressureUs + after.pressureUs
                    - before.pressureUs, atNanos + after.atNanos - before.atNanos);
        }

        /** The threads' CPU ms from {@code before} to this mark. */
        long cpuMsSince(Mark before) {
            return Math.round((runNs - before.runNs) / 1e6);
        }
    }

    private final long pid;
    private final String[] threadPrefixes;

    /** Threads of process {@code pid} whose name starts with one of {@code threadPrefixes} ("" for all). */
    CpuWait(long pid, String... threadPrefixes) {
        this.pid = pid;
        this.threadPrefixes = threadPrefixes;
    }

    private boolean counts(String threadName) {
        for (String p : threadPrefixes) if (threadName.startsWith(p)) return true;
        return false;
    }

    Mark mark() {
        long run = 0;
        long wait = 0;
        long slices = 0;
        int threads = 0;
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path task : tasks) {
                try {
                    if (!counts(Files.readString(task.resolve("comm")))) continue;
                    String[] f = Files.readString(task.resolve("schedstat")).trim().split("\\s+");
                    run += Long.parseLong(f[0]);
                    wait += Long.parseLong(f[1]);
                    slices += Long.parseLong(f[2]);
                    threads++;
                } catch (IOException | RuntimeException ended) {
                    // the thread ended meanwhile, or the kernel keeps no statistics: left out
                }
            }
        } catch (IOException | RuntimeException noProc) {
            return new Mark(0, 0, 0, 0, pressureUs(), System.nanoTime());
        }
        return new Mark(run, wait, slices, threads, pressureUs(), System.nanoTime());
    }

    /**
     * From {@code before} to {@code after}: the threads' CPU ms, their run-queue wait ms, the mean wait each time
     * one was given a CPU (µs), and the share of the time that some task on the machine waited for a CPU.
     */
    static Map<String, Object> between(Mark before, Mark after) {
        Map<String, Object> m = new LinkedHashMap<>();
        long slices = after.slices() - before.slices();
        m.put("threads", after.threads());
        m.put("cpu_ms", after.cpuMsSince(before));
        m.put("runqueue_wait_ms", Math.round((after.waitNs() - before.waitNs()) / 1e6));
        m.put("mean_wait_us", slices <= 0 ? 0 : Math.round((after.waitNs() - before.waitNs()) / 1e3 / slices));
        double wallUs = (after.atNanos() - before.atNanos()) / 1e3;
        if (after.pressureUs() > 0 && wallUs > 0) {
            double share = (after.pressureUs() - before.pressureUs()) / wallUs;
            m.put("machine_cpu_pressure", Math.round(share * 1000) / 1000.0);
        }
        return m;
    }

    /** Total µs during which some runnable task waited for a CPU, or 0 where Linux does not say. */
    private static long pressureUs() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/pressure/cpu"))) {
                if (!line.startsWith("some ")) continue;
                for (String field : line.split("\\s+")) {
                    if (field.startsWith("total=")) return Long.parseLong(field.substring(6));
                }
            }
        } catch (IOException | RuntimeException unavailable) {
            // no pressure stall information on this kernel
        }
        return 0;
    }
}
