package dev.tessera.scheduler.core;

import dev.tessera.scheduler.core.JobEvent.FinishReason;
import dev.tessera.scheduler.core.JobEvent.Timings;
import dev.tessera.scheduler.core.JobEvent.Usage;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every {@link ServingListener} as one: each call goes to every listener in the order they were added; a listener
 * that throws is logged and the others still run. Listeners may be added from any thread.
 */
public final class Listeners implements ServingListener {
    private static final Logger logger = LoggerFactory.getLogger(Listeners.class);

    private final List<ServingListener> listeners = new CopyOnWriteArrayList<>();

    public void add(ServingListener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    @Override
    public void onStep(String model, ModelKind kind, int jobs, int tokens, long nanos) {
        for (ServingListener l : listeners) {
            try {
                l.onStep(model, kind, jobs, tokens, nanos);
            } catch (RuntimeException e) {
                logger.warn("listener failed", e);
            }
        }
    }

    @Override
    public void onPreemption(String model) {
        for (ServingListener l : listeners) {
            try {
                l.onPreemption(model);
            } catch (RuntimeException e) {
                logger.warn("listener failed", e);
            }
        }
    }

    @Override
    public void onFinished(String model, FinishReason reason, Usage usage, Timings timings) {
        for (ServingListener l : listeners) {
            try {
                l.onFinished(model, reason, usage, timings);
            } catch (RuntimeException e) {
                logger.warn("listener failed", e);
            }
        }
    }

    @Override
    public void onFrame(String model, double ageMs, int skipped) {
        for (ServingListener l : listeners) {
            try {
                l.onFrame(model, ageMs, skipped);
            } catch (RuntimeException e) {
                logger.warn("listener failed", e);
            }
        }
    }
}
