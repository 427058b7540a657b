package dev.tessera.engine.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.engine.text.runtime.StepBatch;
import dev.tessera.kvcache.KvCacheSpec;
import dev.tessera.kvcache.KvStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class AttentionWorkersTest {
    private static int nameCounter;

    /** A name no other pool in this JVM uses, so threads can be counted by name. */
    private static synchronized String uniqueName() {
        return "workers-test-" + (++nameCounter);
    }

    private static List<Thread> liveThreads(String name) {
        List<Thread> found = new ArrayList<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.isAlive() && t.getName().startsWith(name + "-")) found.add(t);
        }
        return found;
    }

    @Test
    void runsEveryItemExactlyOnce() {
        try (AttentionWorkers workers = new AttentionWorkers(uniqueName(), 3)) {
            for (int items : new int[] {1, 2, 3, 1000}) {
                AtomicIntegerArray runs = new AtomicIntegerArray(items);
                workers.run(items, (worker, item) -> {
                    if (worker < 0 || worker >= workers.threads()) throw new AssertionError("worker " + worker);
                    runs.incrementAndGet(item);
                });
                for (int i = 0; i < items; i++) assertEquals(1, runs.get(i), "item " + i + " of " + items);
            }
            workers.run(0, (worker, item) -> { throw new AssertionError("no items"); });
        }
    }

    @Test
    void oneThreadStartsNoThreadAndRunsOnTheCaller() {
        String name = uniqueName();
        try (AttentionWorkers workers = new AttentionWorkers(name, 1)) {
            assertEquals(0, liveThreads(name).size());
            Thread caller = Thread.currentThread();
            workers.run(5, (worker, item) -> {
                assertEquals(0, worker);
                assertSame(caller, Thread.currentThread());
            });
        }
    }

    @Test
    void anExceptionInAnItemPropagatesAndThePoolStaysUsable() {
        try (AttentionWorkers workers = new AttentionWorkers(uniqueName(), 3)) {
            IllegalStateException boom = new IllegalStateException("boom");
            // whichever thread runs item 7, the caller gets that very exception
            IllegalStateException thrown = assertThrows(IllegalStateException.class,
                    () -> workers.run(100, (worker, item) -> {
                        if (item == 7) throw boom;
                    }));
            assertSame(boom, thrown);

            // thrown on a worker thread: the caller's item waits until a worker has thrown
            AtomicBoolean workerThrew = new AtomicBoolean();
            RuntimeException fromWorker = new UnsupportedOperationException("from a worker");
            RuntimeException got = assertThrows(UnsupportedOperationException.class,
                    () -> workers.run(2, (worker, item) -> {
                        if (worker != 0) {
                            workerThrew.set(true);
                            throw fromWorker;
                        }
                        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                        while (!workerThrew.get() && System.nanoTime() < deadline) Thread.onSpinWait();
                    }));
            assertSame(fromWorker, got);
            assertTrue(workerThrew.get());

            // errors too
            assertThrows(AssertionError.class, () -> workers.run(3, (worker, item) -> {
                throw new AssertionError("error");
            }));

            // still usable: every item of the next job runs
            AtomicIntegerArray runs = new AtomicIntegerArray(50);
            workers.run(50, (worker, item) -> runs.incrementAndGet(item));
            for (int i = 0; i < 50; i++) assertEquals(1, runs.get(i));
        }
    }

    @Test
    void aTaskCannotRunANestedJob() {
        try (AttentionWorkers workers = new AttentionWorkers(uniqueName(), 2)) {
            assertThrows(IllegalStateException.class,
                    () -> workers.run(4, (worker, item) -> workers.run(1, (w, i) -> { })));
            AtomicIntegerArray runs = new AtomicIntegerArray(4);
            workers.run(4, (worker, item) -> runs.incrementAndGet(item));
            for (int i = 0; i < 4; i++) assertEquals(1, runs.get(i));
        }
    }

    /** Jobs from two threads (two engines on one pool) queue behind each other; every item of each runs once. */
    @Test
    void callsFromTwoThreadsAreSerialised() throws Exception {
        try (AttentionWorkers workers = new AttentionWorkers(uniqueName(), 2)) {
            AtomicReference<Throwable> failed = new AtomicReference<>();
            CountDownLatch start = new CountDownLatch(1);
            Runnable caller = () -> {
                try {
                    start.await();
                    for (int round = 0; round < 300; round++) {
                        AtomicIntegerArray runs = new AtomicIntegerArray(16);
                        workers.run(16, (worker, item) -> runs.incrementAndGet(item));
                        for (int i = 0; i < 16; i++) {
                            if (runs.get(i) != 1) throw new AssertionError("item " + i + " ran " + runs.get(i));
                        }
                    }
                } catch (Throwable t) {
                    failed.compareAndSet(null, t);
                }
            };
            Thread a = new Thread(caller);
            Thread b = new Thread(caller);
            a.start();
            b.start();
            start.countDown();
            a.join();
            b.join();
            if (failed.get() != null) throw new AssertionError(failed.get());
        }
    }

    @Test
    void closeStopsEveryThreadAndIsIdempotent() {
        String name = uniqueName();
        AttentionWorkers workers = new AttentionWorkers(name, 4);
        assertEquals(3, liveThreads(name).size());
        workers.run(100, (worker, item) -> { });
        workers.close();
        assertEquals(List.of(), liveThreads(name));
        assertTrue(workers.isClosed());
        workers.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> workers.run(1, (worker, item) -> { }));
    }

    @Test
    void aKernelThatOwnsItsWorkersStopsThemOnClose() {
        KvCacheSpec spec = new KvCacheSpec(1, 1, 16, 4);
        long before = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith(AttentionWorkers.DEFAULT_NAME + "-")).count();
        PagedAttention attention = new PagedAttention(spec, 2, 3);
        attention.close();
        attention.close();
        long after = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith(AttentionWorkers.DEFAULT_NAME + "-")).count();
        assertTrue(after <= before, "threads left: " + after + " > " + before);
    }

    /**
     * One pool under kernels of two different models (paged GQA decode/prefill, and packed attention of two shapes),
     * called in turn: each gives the bits it gives on a pool of its own, and closing a kernel leaves the pool running.
     */
    @Test
    void onePoolServesSeveralKernels() {
        Random rnd = new Random(3);
        // paged: 4 heads over 2 KV heads, head dim 32, a prefill and two decodes
        KvCacheSpec spec = new KvCacheSpec(1, 2, 32, 8);
        int[][] seqs = {{0, 40}, {20, 1}, {9, 1}};
        int blocks = 0;
        int tokens = 0;
        for (int[] s : seqs) {
            blocks += (s[0] + s[1] + 7) / 8;
            tokens += s[1];
        }
        KvStore store = new KvStore(spec, blocks);
        float[] keys = store.keys(0);
        float[] values = store.values(0);
        for (int i = 0; i < keys.length; i++) {
            keys[i] = rnd.nextFloat() - 0.5f;
            values[i] = rnd.nextFloat() - 0.5f;
        }
        StepBatch batch = new StepBatch(tokens, seqs.length, 8);
        batch.clear();
        int next = 0;
        for (int[] s : seqs) {
            int ctx = s[0] + s[1];
            int nb = (ctx + 7) / 8;
            int[] table = new int[nb];
            for (int i = 0; i < nb; i++) table[i] = next++;
            batch.addSequence(new int[ctx], s[0], s[1], table, nb, 8, true);
        }
        float[] pq = PackedAttentionTest.random(rnd, tokens * 4 * 32, 1f);

        // packed: 8 heads x 32 (DETR-like) and 4 heads over 1 KV head x 80
        int[] cuA = PackedAttentionTest.offsets(new int[] {50, 3, 120});
        float[] qa = PackedAttentionTest.random(rnd, cuA[3] * 8 * 32, 1f);
        float[] ka = PackedAttentionTest.random(rnd, cuA[3] * 8 * 32, 1f);
        float[] va = PackedAttentionTest.random(rnd, cuA[3] * 8 * 32, 1f);
        int[] cuQb = PackedAttentionTest.offsets(new int[] {10, 70});
        int[] cuKb = PackedAttentionTest.offsets(new int[] {90, 30});
        float[] qb = PackedAttentionTest.random(rnd, cuQb[2] * 4 * 80, 1f);
        float[] kb = PackedAttentionTest.random(rnd, cuKb[2] * 80, 1f);
        float[] vb = PackedAttentionTest.random(rnd, cuKb[2] * 80, 1f);

        float[] pagedAlone = new float[pq.length];
        float[] aAlone = new float[qa.length];
        float[] bAlone = new float[qb.length];
        try (PagedAttention p = new PagedAttention(spec, 4, 2)) {
            p.forward(0, pq, pagedAlone, batch, store);
        }
        try (PackedAttention a = new PackedAttention(8, 8, 32); PackedAttention b = new PackedAttention(4, 1, 80)) {
            a.forward(qa, ka, va, cuA, cuA, 3, aAlone);
            b.forward(qb, kb, vb, cuQb, cuKb, 2, bAlone);
        }

        String name = uniqueName();
        try (AttentionWorkers shared = new AttentionWorkers(name, 3)) {
            PagedAttention p = new PagedAttention(spec, 4, shared);
            PackedAttention a = new PackedAttention(8, 8, 32, shared);
            PackedAttention b = new PackedAttention(4, 1, 80, shared);
            for (int round = 0; round < 3; round++) {
                float[] pagedOut = new float[pq.length];
                float[] aOut = new float[qa.length];
                float[] bOut = new float[qb.length];
                p.forward(0, pq, pagedOut, batch, store);
                a.forward(qa, ka, va, cuA, cuA, 3, aOut);
                b.forward(qb, kb, vb, cuQb, cuKb, 2, bOut);
                assertArrayEquals(pagedAlone, pagedOut, "paged, round " + round);
                assertArrayEquals(aAlone, aOut, "packed 8x32, round " + round);
                assertArrayEquals(bAlone, bOut, "packed 4/1x80, round " + round);
            }
            p.close();
            a.close();
            assertEquals(2, liveThreads(name).size(), "closing a kernel leaves a shared pool running");
            float[] bOut = new float[qb.length];
            b.forward(qb, kb, vb, cuQb, cuKb, 2, bOut);
            assertArrayEquals(bAlone, bOut);
            b.close();
        }
        assertEquals(List.of(), liveThreads(name));
    }

    @Test
    void kernelsOnAClosedPoolRefuseToRun() {
        AttentionWorkers workers = new AttentionWorkers(uniqueName(), 2);
        PackedAttention attention = new PackedAttention(2, 1, 16, workers);
        workers.close();
        assertThrows(IllegalStateException.class, () -> attention.forward(new float[64], new float[32],
                new float[32], new int[] {0, 2}, new int[] {0, 2}, 1, new float[64]));
    }

    @Test
    void rejectsBadArguments() {
        assertThrows(IllegalArgumentException.class, () -> new AttentionWorkers(0));
        try (AttentionWorkers workers = new AttentionWorkers(uniqueName(), 1)) {
            assertThrows(IllegalArgumentException.class, () -> workers.run(-1, (w, i) -> { }));
            assertThrows(NullPointerException.class, () -> workers.run(1, null));
        }
    }
}
