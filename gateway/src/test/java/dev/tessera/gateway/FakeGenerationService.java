package dev.tessera.gateway;

import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.engine.text.sampling.SamplingParams;
import dev.tessera.scheduler.DrainingException;
import dev.tessera.scheduler.GenerateRequest;
import dev.tessera.scheduler.GenerationEvent;
import dev.tessera.scheduler.GenerationService;
import dev.tessera.scheduler.SchedulerListener;
import dev.tessera.scheduler.SchedulerStats;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * A test double of the scheduler: deterministic tokens (a function of the prompt and the position), emitted on
 * its own thread only as far as the subscriber requests, with an optional pause per token. It counts what it
 * emitted per request and which requests are live, so tests can see demand and cancellation.
 */
final class FakeGenerationService implements GenerationService, AutoCloseable {
    static final int VOCAB = 1000;
    static final ModelInfo MODEL = new ModelInfo("fake-tiny", "FakeForCausalLM", VOCAB, 64, 2, 4, 2, 16, 1 << 20,
            new int[] {0}, -1);

    private final Scheduler thread = Schedulers.newSingle("fake-scheduler");
    private final Duration perToken;
    private final Map<String, AtomicLong> emitted = new ConcurrentHashMap<>();
    private final AtomicInteger live = new AtomicInteger();
    private final AtomicLong cancelled = new AtomicLong();
    private final List<SchedulerListener> listeners = new CopyOnWriteArrayList<>();
    private volatile boolean draining;

    FakeGenerationService(Duration perToken) {
        this.perToken = perToken;
    }

    /** The token at {@code position} of the output for {@code prompt}. */
    static int token(String prompt, int position) {
        return Math.floorMod(prompt.hashCode() * 31 + position * 7919, VOCAB - 1) + 1;
    }

    @Override
    public ModelInfo model() {
        return MODEL;
    }

    @Override
    public Flux<GenerationEvent> generate(GenerateRequest request) {
        SamplingParams p = request.params();
        p.validate(VOCAB);
        String prompt = request.prompt() != null ? request.prompt() : java.util.Arrays.toString(request.promptTokenIds());
        AtomicLong count = emitted.computeIfAbsent(request.requestId(), k -> new AtomicLong());
        long start = System.nanoTime();
        Flux<GenerationEvent> tokens = Flux.<GenerationEvent, Integer>generate(() -> 0, (i, sink) -> {
            if (i < p.maxTokens()) {
                int id = token(prompt, i);
                count.incrementAndGet();
                sink.next(new GenerationEvent.TokenDelta(0, "t" + id + " ", new int[] {id}, List.of()));
            } else {
                double ms = (System.nanoTime() - start) / 1e6;
                GenerationEvent.Finished f = new GenerationEvent.Finished(0, GenerationEvent.FinishReason.LENGTH,
                        new GenerationEvent.Usage(3, p.maxTokens(), 0),
                        new GenerationEvent.Timings(0.1, ms / 2, ms, new double[] {1.0, 2.0}));
                for (SchedulerListener l : listeners) {
                    l.onStep(1, 1, 1000);
                    l.onFinished(f.reason(), f.usage(), f.timings());
                }
                sink.next(f);
                sink.complete();
            }
            return i + 1;
        });
        Flux<GenerationEvent> paced = perToken.isZero() ? tokens
                : tokens.concatMap(e -> Flux.just(e).delayElements(perToken, thread), 1);
        return Flux.defer(() -> {
            if (draining) {
                return Flux.<GenerationEvent>error(new DrainingException());
            }
            return paced;
        }).subscribeOn(thread, true)
                .doOnSubscribe(s -> live.incrementAndGet())
                .doOnCancel(cancelled::incrementAndGet)
                .doFinally(s -> live.decrementAndGet());
    }

    /** Requests that are subscribed and not yet completed or cancelled. */
    int live() {
        return live.get();
    }

    long cancelled() {
        return cancelled.get();
    }

    /** Events emitted so far for the job whose scheduler request id starts with {@code prefix}. */
    long emittedFor(String requestId) {
        AtomicLong c = emitted.get(requestId);
        return c == null ? 0 : c.get();
    }

    long emittedTotal() {
        return emitted.values().stream().mapToLong(AtomicLong::get).sum();
    }

    @Override
    public SchedulerStats stats() {
        return new SchedulerStats(live.get(), 0, 0.25, 100, 75, 0, 0, 0, 0);
    }

    @Override
    public void addListener(SchedulerListener listener) {
        listeners.add(listener);
    }

    @Override
    public void drain() {
        draining = true;
    }

    @Override
    public boolean awaitIdle(Duration timeout) throws InterruptedException {
        long end = System.nanoTime() + timeout.toNanos();
        while (live.get() > 0) {
            if (System.nanoTime() > end) {
                return false;
            }
            Thread.sleep(5);
        }
        return true;
    }

    @Override
    public void close() {
        thread.dispose();
    }
}
