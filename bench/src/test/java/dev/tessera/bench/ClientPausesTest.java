package dev.tessera.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ClientPausesTest {
    private static final long MS = 1_000_000L;

    @Test
    void countsOnlyThePartOfEachPauseInsideTheWindow() {
        try (ClientPauses pauses = new ClientPauses()) {
            long t = 1_000 * MS; // far from any real collection of this JVM on the nanoTime clock
            pauses.add(t, t + 20 * MS);
            pauses.add(t + 50 * MS, t + 55 * MS);
            assertEquals(25.0, pauses.pausedMs(t - 5 * MS, t + 60 * MS), 1e-9, "both whole");
            assertEquals(10.0, pauses.pausedMs(t + 10 * MS, t + 30 * MS), 1e-9, "the second half of the first");
            assertEquals(3.0, pauses.pausedMs(t + 52 * MS, t + 70 * MS), 1e-9, "the end of the second");
            assertEquals(0.0, pauses.pausedMs(t + 25 * MS, t + 45 * MS), 1e-9, "between them");
        }
    }

    @Test
    void youngCollectionsOfThisJvmAreRecordedOnTheNanoTimeClock() throws Exception {
        try (ClientPauses pauses = new ClientPauses()) {
            long collections = youngCollections();
            long before = System.nanoTime();
            while (youngCollections() < collections + 3) sink = new byte[1 << 20]; // young collections, no full one
            long after = System.nanoTime();
            long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (pauses.ended(before - 2 * MS, after + 2 * MS) < 3) {
                assertTrue(System.nanoTime() < end, "three young collections were not all recorded in the window");
                Thread.sleep(5);
            }
        }
    }

    private static volatile Object sink;

    private static long youngCollections() {
        long n = 0;
        for (var gc : java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()) {
            if (!gc.getName().contains("Old")) n += gc.getCollectionCount();
        }
        return n;
    }

    @Test
    void aCollectionOfThisJvmIsRecordedOnTheNanoTimeClock() throws Exception {
        try (ClientPauses pauses = new ClientPauses()) {
            long before = System.nanoTime();
            System.gc(); // a full collection with G1 and the default collectors: one stop-the-world pause
            long after = System.nanoTime();
            long end = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            // notifications come on a thread of their own; the uptime clock has millisecond steps
            while (pauses.ended(before - 2 * MS, after + 2 * MS) == 0) {
                assertTrue(System.nanoTime() < end, "no collection was recorded in the window");
                Thread.sleep(5);
            }
        }
    }
}
