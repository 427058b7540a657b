package dev.tessera.gateway.openai;

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
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * A test double of the serving core whose behaviour the prompt picks: {@code queue-full} is refused
 * RESOURCE_EXHAUSTED, {@code fail-late} fails after two deltas, {@code slow} paces its tokens 20 ms apart, and
 * anything else emits big deltas (4 KiB of text each) as fast as they are requested, counting them, so that only
 * backpressure can hold a job back.
 */
final class ScriptedJobService implements JobService, AutoCloseable {
    static final ModelCard MODEL = new ModelCard("scripted", ModelKind.TEXT_GENERATION, "ScriptedForCausalLM", true,
            1 << 30, 100, List.of());
    static final String BIG = "x".repeat(4096);

    private final Scheduler thread = Schedulers.newSingle("scripted");
    final AtomicLong emitted = new AtomicLong();
    final AtomicInteger live = new AtomicInteger();

    @Override
    public List<ModelCard> models() {
        return List.of(MODEL);
    }

    @Override
    public Flux<JobEvent> generate(GenerateRequest request) {
        String prompt = String.valueOf(request.prompt());
        long max = request.sampling().maxTokens() == null ? 16 : request.sampling().maxTokens();
        Flux<JobEvent> events = switch (prompt) {
            case "queue-full" -> Flux.just(new JobEvent.Error(JobFailure.of(JobFailure.Code.RESOURCE_EXHAUSTED,
                    "the waiting queue of model 'scripted' is full (1 requests)")));
            case "fail-late" -> Flux.just(delta("a"), delta("b"), new JobEvent.Error(JobFailure.of(
                    JobFailure.Code.INTERNAL, "internal error: the step failed")));
            case "slow" -> tokens(max, "t").concatMap(e -> Flux.just(e).delayElements(Duration.ofMillis(20), thread),
                    1);
            default -> tokens(max, BIG);
        };
        return events.subscribeOn(thread, true)
                .doOnSubscribe(s -> live.incrementAndGet())
                .doFinally(s -> live.decrementAndGet());
    }

    private Flux<JobEvent> tokens(long max, String text) {
        return Flux.<JobEvent, Long>generate(() -> 0L, (i, sink) -> {
            if (i < max) {
                emitted.incrementAndGet();
                sink.next(delta(text));
            } else {
                sink.next(new JobEvent.Finished(0, JobEvent.FinishReason.LENGTH, new JobEvent.Usage(3, (int) max, 0),
                        new JobEvent.Timings(0, 1, 2, new double[0])));
                sink.complete();
            }
            return i + 1;
        });
    }

    private static JobEvent.TokenDelta delta(String text) {
        return new JobEvent.TokenDelta(0, text, new int[] {7}, List.of());
    }

    @Override
    public Flux<JobEvent> detect(Flux<DetectFrame> frames) {
        return Flux.empty();
    }

    @Override
    public ModelStats stats(String name) {
        return new TextStats(live.get(), 0, 0, 1, 1, 0, 0, 0, 0, 16, 0);
    }

    @Override
    public void addListener(ServingListener listener) {
    }

    @Override
    public void drain() {
    }

    @Override
    public boolean awaitIdle(Duration timeout) {
        return live.get() == 0;
    }

    @Override
    public void close() {
        thread.dispose();
    }
}
