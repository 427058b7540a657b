package dev.tessera.scheduler;

import dev.tessera.engine.text.model.ModelInfo;
import java.time.Duration;
import reactor.core.publisher.Flux;

/**
 * What the gateway sees of text generation: submit a job, get a cold {@link Flux} of its events.
 *
 * <p>Subscribing submits the job; cancelling the subscription removes it and frees its KV blocks before the next
 * step. The Flux honours demand: while a subscriber requests nothing, at most a fixed number of events are buffered
 * for it and its sequence is paused (not scheduled) until demand returns. Token deltas are never dropped.
 */
public interface GenerationService {

    /** The served model. */
    ModelInfo model();

    /**
     * Validates {@code request} at once and returns its event stream.
     *
     * @throws dev.tessera.engine.InvalidArgumentException naming the field, for malformed or out-of-range input
     * @return a Flux that errors with {@link QueueFullException} (waiting queue at its bound) or
     *     {@link DrainingException} (shutting down) right at subscription
     */
    Flux<GenerationEvent> generate(GenerateRequest request);

    SchedulerStats stats();

    /** Listeners are called on the scheduler thread and must not block. */
    void addListener(SchedulerListener listener);

    /** Stops admitting new jobs; running and waiting jobs go on. */
    void drain();

    /** Waits until no job is running or waiting. */
    boolean awaitIdle(Duration timeout) throws InterruptedException;
}
