package dev.tessera.bench;

import com.sun.management.GarbageCollectionNotificationInfo;
import com.sun.management.GcInfo;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.RuntimeMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import javax.management.ListenerNotFoundException;
import javax.management.Notification;
import javax.management.NotificationEmitter;
import javax.management.NotificationListener;
import javax.management.openmbean.CompositeData;

/**
 * This JVM's stop-the-world garbage collections, each on the {@link System#nanoTime} clock, so that a gap the
 * canary's client measured can be checked against the time its own JVM stood still: a client paused by its own
 * collector sees the server's tokens late, whatever the server did. From the collectors' notifications (their start
 * and end, in milliseconds, on a clock set against {@code nanoTime} by collections when it is made); collectors
 * that report concurrent cycles ({@code ... Cycles}) are left out, their durations are not pauses.
 */
final class ClientPauses implements AutoCloseable {
    /** Collections the clocks are set against each other by (see {@link #calibrate}). */
    private static final int CALIBRATIONS = 3;
    private final long nanoAtStart;
    private final long uptimeAtStart;
    /** What the collectors' clock is behind the uptime clock, in nanoseconds (see the constructor). */
    private final long offsetNanos;
    /** {start, end} of each pause, nanoTime. */
    private final ConcurrentLinkedQueue<long[]> pauses = new ConcurrentLinkedQueue<>();
    private final List<Runnable> removals = new ArrayList<>();

    ClientPauses() {
        RuntimeMXBean runtime = ManagementFactory.getRuntimeMXBean();
        runtime.getUptime(); // its first call loads the management classes: not between the two readings below
        nanoAtStart = System.nanoTime();
        uptimeAtStart = runtime.getUptime();
        offsetNanos = calibrate();
        NotificationListener listener = this::notified;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (gc.getName().endsWith("Cycles") || !(gc instanceof NotificationEmitter emitter)) continue;
            emitter.addNotificationListener(listener, null, null);
            removals.add(() -> {
                try {
                    emitter.removeNotificationListener(listener);
                } catch (ListenerNotFoundException e) {
                    // already gone
                }
            });
        }
    }

    /**
     * HotSpot times collections from when its management started, some tens of milliseconds after the origin of
     * {@code RuntimeMXBean.getUptime} (35 ms here), so the two clocks are set against each other: a collection
     * asked for ends when {@link System#gc} returns, within a millisecond, unless this thread waits for a core in
     * between, which only makes the offset larger. So the smallest of {@value #CALIBRATIONS} (one was 2 ms or more
     * too large in a CI run, on a loaded machine). 0 where no collection follows it (explicit collections disabled).
     */
    private long calibrate() {
        long best = Long.MAX_VALUE;
        for (int i = 0; i < CALIBRATIONS; i++) {
            System.gc();
            long returned = System.nanoTime();
            long latestEnd = -1;
            for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
                if (gc instanceof com.sun.management.GarbageCollectorMXBean hotspot
                        && hotspot.getLastGcInfo() != null) {
                    latestEnd = Math.max(latestEnd, hotspot.getLastGcInfo().getEndTime());
                }
            }
            if (latestEnd < 0) return 0;
            best = Math.min(best, returned - (nanoAtStart + (latestEnd - uptimeAtStart) * 1_000_000L));
        }
        return best;
    }

    private void notified(Notification n, Object handback) {
        if (!n.getType().equals(GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION)) return;
        GcInfo info = GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData()).getGcInfo();
        add(toNanos(info.getStartTime()), toNanos(info.getEndTime()));
    }

    private long toNanos(long collectorMs) {
        return nanoAtStart + (collectorMs - uptimeAtStart) * 1_000_000L + offsetNanos;
    }

    /** Records a pause from {@code startNanos} to {@code endNanos}. */
    void add(long startNanos, long endNanos) {
        pauses.add(new long[] {startNanos, endNanos});
    }

    /** Milliseconds of this JVM's pauses inside {@code [fromNanos, toNanos]}. */
    double pausedMs(long fromNanos, long toNanos) {
        long sum = 0;
        for (long[] p : pauses) sum += Math.max(0, Math.min(p[1], toNanos) - Math.max(p[0], fromNanos));
        return sum / 1e6;
    }

    /** Pauses that ended inside {@code [fromNanos, toNanos]}. */
    int ended(long fromNanos, long toNanos) {
        int n = 0;
        for (long[] p : pauses) if (p[1] >= fromNanos && p[1] <= toNanos) n++;
        return n;
    }

    @Override
    public void close() {
        removals.forEach(Runnable::run);
    }
}
