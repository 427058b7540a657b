package dev.tessera.scheduler.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Flux;
import reactor.test.StepVerifier;

/** The kind-neutral loop: interleaving lanes fairly by step counts, demand, cancellation, drain and shutdown. */
class WorkLoopTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @Test
    void aJobOfAnotherLaneWaitsAtMostTheBoundUnderContinuousLoad() throws Exception {
        AtomicLong clock = new AtomicLong();
        List<String> log = new CopyOnWriteArrayList<>();
        FakeLane text = new FakeLane("text", 1, clock, log::add);
        FakeLane detect = new FakeLane("detect", 1_000, clock, log::add) // each step costs 1000 text steps
                .logAdmissions(log::add);
        int bound = 4;
        try (WorkLoop loop = new WorkLoop(List.of(text, detect), new FairShare(bound), clock::get)) {
            Flux<String> load = text.job(loop, 400);
            StepVerifier continuous = StepVerifier.create(load).expectNextCount(400).expectComplete().verifyLater();
            loop.start();
            awaitSteps(log, "text", 20);
            for (int frame = 0; frame < 3; frame++) {
                int before = log.size();
                StepVerifier.create(detect.job(loop, 1)).expectNextCount(1).expectComplete().verify(TIMEOUT);
                List<String> copy = new java.util.ArrayList<>(log); // the text job keeps logging meanwhile
                List<String> since = copy.subList(before, copy.size());
                // Counted from the admission, which the loop thread logs between steps when it first sees the
                // job: the test thread may be descheduled between submitting and the loop's next turn, while text
                // steps go on (a loaded machine showed 31), and that is not waiting in the loop.
                int admitted = since.indexOf("admit:detect");
                int textSteps = since.indexOf("detect") - admitted - 1;
                assertTrue(admitted >= 0 && textSteps >= 0 && textSteps <= bound,
                        "frame " + frame + " waited " + textSteps + " text steps (bound " + bound + "): " + since);
            }
            continuous.verify(TIMEOUT);
        }
    }

    @Test
    void twoBusyLanesOfEqualCostShareTheSteps() throws Exception {
        AtomicLong clock = new AtomicLong();
        List<String> log = new CopyOnWriteArrayList<>();
        FakeLane a = new FakeLane("a", 5, clock, log::add);
        FakeLane b = new FakeLane("b", 5, clock, log::add);
        try (WorkLoop loop = new WorkLoop(List.of(a, b), new FairShare(8), clock::get)) {
            StepVerifier va = StepVerifier.create(a.job(loop, 30)).expectNextCount(30).expectComplete().verifyLater();
            StepVerifier vb = StepVerifier.create(b.job(loop, 30)).expectNextCount(30).expectComplete().verifyLater();
            awaitInFlight(loop, 2);
            loop.start();
            va.verify(TIMEOUT);
            vb.verify(TIMEOUT);
            // while both were busy, neither ran twice in a row
            int both = Math.min(log.lastIndexOf("a"), log.lastIndexOf("b"));
            for (int i = 1; i < both; i++) {
                assertTrue(!log.get(i).equals(log.get(i - 1)), "alternating: " + log);
            }
            assertEquals(30, loop.steps(0), "one unit per step: " + log);
            assertEquals(30, loop.steps(1), "one unit per step: " + log);
        }
    }

    @Test
    void withoutDemandAJobPausesAndResumesOnDemand() throws Exception {
        AtomicLong clock = new AtomicLong();
        List<String> log = new CopyOnWriteArrayList<>();
        FakeLane lane = new FakeLane("x", 1, clock, log::add);
        try (WorkLoop loop = new WorkLoop(List.of(lane), new FairShare(8), clock::get).start()) {
            StepVerifier.create(lane.job(loop, 10), 0)
                    .then(() -> awaitParked(log, 2))
                    .then(() -> assertEquals(2, log.size(), "paused after 2 events without demand"))
                    .thenRequest(Long.MAX_VALUE)
                    .expectNextCount(10)
                    .verifyComplete();
            assertTrue(loop.awaitIdle(TIMEOUT));
        }
    }

    @Test
    void cancellationDropsTheJobAndCountsItOut() throws Exception {
        AtomicLong clock = new AtomicLong();
        FakeLane lane = new FakeLane("x", 1, clock, s -> { });
        try (WorkLoop loop = new WorkLoop(List.of(lane), new FairShare(8), clock::get).start()) {
            StepVerifier.create(lane.job(loop, 1_000_000), 1).expectNextCount(1).thenCancel().verify(TIMEOUT);
            assertTrue(loop.awaitIdle(TIMEOUT));
            assertEquals(1, lane.cancelled.size());
            assertTrue(!lane.busy());
        }
    }

    @Test
    void drainRefusesNewJobsAndCloseFailsWhatIsLeft() throws Exception {
        AtomicLong clock = new AtomicLong();
        FakeLane lane = new FakeLane("x", 1, clock, s -> { });
        WorkLoop loop = new WorkLoop(List.of(lane), new FairShare(8), clock::get);
        StepVerifier held = StepVerifier.create(lane.job(loop, 5), 0).expectErrorSatisfies(e -> assertEquals(
                JobFailure.Code.UNAVAILABLE, assertInstanceOf(JobException.class, e).failure().code())).verifyLater();
        awaitInFlight(loop, 1);
        loop.drain();
        StepVerifier.create(lane.job(loop, 1)).expectErrorSatisfies(e -> assertEquals(JobFailure.Code.UNAVAILABLE,
                assertInstanceOf(JobException.class, e).failure().code())).verify(TIMEOUT);
        loop.close(); // never started: what was submitted ends UNAVAILABLE
        held.verify(TIMEOUT);
        assertEquals(0, loop.inFlight());
    }

    private static void awaitSteps(List<String> log, String lane, int n) throws InterruptedException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (log.stream().filter(lane::equals).count() < n) {
            assertTrue(System.nanoTime() < deadline);
            Thread.sleep(1);
        }
    }

    private static void awaitInFlight(WorkLoop loop, int n) throws InterruptedException {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (loop.inFlight() < n) {
            assertTrue(System.nanoTime() < deadline);
            Thread.sleep(1);
        }
    }

    /** Waits until {@code log} has {@code n} entries and the loop thread has parked (nothing left it can run). */
    private static void awaitParked(List<String> log, int n) {
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (log.size() >= n && loopThreadParked()) return;
            Thread.onSpinWait();
        }
        throw new AssertionError("the loop did not park after " + n + " steps: " + log);
    }

    private static boolean loopThreadParked() {
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().equals("tessera-loop") && t.getState() == Thread.State.WAITING) return true;
        }
        return false;
    }
}
