package dev.tessera.gateway;

import dev.tessera.scheduler.JobService;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobFailure;
import dev.tessera.scheduler.core.ModelCard;
import dev.tessera.scheduler.core.ModelKind;
import dev.tessera.scheduler.core.ModelStats;
import dev.tessera.scheduler.core.ServingListener;
import dev.tessera.scheduler.detect.DetectFrame;
import dev.tessera.scheduler.text.GenerateRequest;
import dev.tessera.scheduler.text.TextStats;
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
 * A test double of the serving core for the gateway's streaming tests: one text model whose tokens are a function
 * of the prompt and the position, emitted on its own thread only as far as the subscriber requests, with an
 * optional pause per token. It counts what it emitted per request and which requests are live, so tests can see
 * demand and cancellation. It checks nothing (the real core's validation is tested with the real core).
 */
final class FakeJobService implements JobService, AutoCloseable {
    static final int VOCAB = 1000;
    static final ModelCard MODEL = new ModelCard("fake-tiny", ModelKind.TEXT_GENERATION, "FakeForCausalLM", true,
            1 << 20, VOCAB, List.of());

    private final Scheduler thread = Schedulers.newSingle("fake-scheduler");
    private final Duration perToken;
    private final Map<String, AtomicLong> emitted = new ConcurrentHashMap<>();
    private final AtomicInteger live = new AtomicInteger();
    private final AtomicLong cancelled = new AtomicLong();
    private final List<ServingListener> listeners = new CopyOnWriteArrayList<>();
    private volatile boolean draining;

    FakeJobService(Duration perToken) {
        this.perToken = perToken;
    }

    /** The token at {@code position} of the output for {@code prompt}. */
    static int token(String prompt, int position) {
        return Math.floorMod(prompt.hashCode() * 31 + position * 7919, VOCAB - 1) + 1;
    }

    @Override
    public List<ModelCard> models() {
        return List.of(MODEL);
    }

    @Override
    public Flux<JobEvent> generate(GenerateRequest request) {
        long maxTokens = request.sampling().maxTokens() == null ? 16 : request.sampling().maxTokens();
        String prompt = request.prompt() != null ? request.prompt()
                : java.util.Arrays.toString(request.promptTokenIds());
        AtomicLong count = emitted.computeIfAbsent(request.requestId(), k -> new AtomicLong());
        long start = System.nanoTime();
        Flux<JobEvent> tokens = Flux.<JobEvent, Integer>generate(() -> 0, (i, sink) -> {
            if (i < maxTokens) {
                int id = token(prompt, i);
                count.incrementAndGet();
                sink.next(new JobEvent.TokenDelta(0, "t" + id + " ", new int[] {id}, List.of()));
            } else {
                double ms = (System.nanoTime() - start) / 1e6;
                JobEvent.Finished f = new JobEvent.Finished(0, JobEvent.FinishReason.LENGTH,
                        new JobEvent.Usage(3, (int) maxTokens, 0),
                        new JobEvent.Timings(0.1, ms / 2, ms, new double[] {1.0, 2.0}));
                for (ServingListener l : listeners) {
                    l.onStep(MODEL.name(), ModelKind.TEXT_GENERATION, 1, 1, 1000);
                    l.onFinished(MODEL.name(), f.reason(), f.usage(), f.timings());
                }
                sink.next(f);
                sink.complete();
            }
            return i + 1;
        });
        Flux<JobEvent> paced = perToken.isZero() ? tokens
                : tokens.concatMap(e -> Flux.just(e).delayElements(perToken, thread), 1);
        return Flux.defer(() -> {
            if (draining) {
                return Flux.<JobEvent>just(new JobEvent.Error(JobFailure.of(JobFailure.Code.UNAVAILABLE,
                        "the server is draining: no new requests are admitted")));
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
    public Flux<JobEvent> detect(Flux<DetectFrame> frames) {
        return Flux.just(new JobEvent.Error(JobFailure.of(JobFailure.Code.UNIMPLEMENTED,
                "no detection model is served here")));
    }

    @Override
    public ModelStats stats(String name) {
        return new TextStats(live.get(), 0, 0.25, 100, 75, 0, 0, 0, 0, 16, 0);
    }

    @Override
    public void addListener(ServingListener listener) {
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
