package dev.tessera.scheduler;

import dev.tessera.scheduler.GenerationEvent.FinishReason;
import dev.tessera.scheduler.GenerationEvent.Timings;
import dev.tessera.scheduler.GenerationEvent.Usage;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The scheduler's {@link SchedulerListener}s as one: each call goes to every listener in the order they were added; a
 * listener that throws is logged and the others still run. Listeners may be added from any thread; calls come on the
 * scheduler loop.
 */
final class Listeners implements SchedulerListener {
    private static final Logger logger = LoggerFactory.getLogger(Listeners.class);

    private final List<SchedulerListener> listeners = new CopyOnWriteArrayList<>();

    void add(SchedulerListener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    @Override
    public void onStep(int numSeqs, int numTokens, long nanos) {
        for (SchedulerListener l : listeners) {
            try {
                l.onStep(numSeqs, numTokens, nanos);
            } catch (RuntimeException e) {
                logger.warn("listener failed", e);
            }
        }
    }

    @Override
    public void onPreemption() {
        for (SchedulerListener l : listeners) {
            try {
                l.onPreemption();
            } catch (RuntimeException e) {
                logger.warn("listener failed", e);
            }
        }
    }

    @Override
    public void onFinished(FinishReason reason, Usage usage, Timings timings) {
        for (SchedulerListener l : listeners) {
            try {
                l.onFinished(reason, usage, timings);
            } catch (RuntimeException e) {
                logger.warn("listener failed", e);
            }
        }
    }
}
