package dev.tessera.scheduler.text;

import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.engine.text.runtime.ModelExecutor;
import dev.tessera.engine.text.sampling.SamplingParams;
import dev.tessera.kvcache.KvStats;
import dev.tessera.kvcache.PagedKvCache;
import dev.tessera.scheduler.core.JobFailure;
import dev.tessera.scheduler.core.Lane;
import dev.tessera.scheduler.core.Listeners;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * A text model's lane: iteration-level continuous batching over a paged KV cache, as vLLM's scheduler and model
 * runner. The {@link Planner} fills a {@link StepPlan} within the token budget (decodes, then chunked prefills,
 * then admissions, preempting when blocks run out), the {@link StepRunner} packs it into one unpadded step, runs it
 * and samples, and the {@link EventEmitter} streams token ids and ends samples. Every method runs on the loop
 * thread; the statistics are published for other threads.
 */
final class TextLane implements Lane<TextJob> {
    private final String name;
    private final PagedKvCache kv;
    private final Planner planner;
    private final EventEmitter emitter;
    private final StepRunner runner;
    /**
     * Places held in the waiting queue, bounded by {@link TextConfig#maxWaiting()}: requests from subscription
     * (before they are prepared) until their first admission to the running batch, and preempted sequences until
     * they run again.
     */
    final AtomicInteger queued = new AtomicInteger();
    /** The most places {@link #queued} ever held at once, for {@link TextStats#waitingPeak()}. */
    private final AtomicInteger queuedPeak = new AtomicInteger();
    private final int maxWaiting;
    /** Requests handed to the loop and not yet seen by the planner. */
    private final AtomicInteger inInbox = new AtomicInteger();
    private volatile TextStats snapshot;

    private final @Nullable EncoderSchedule encoder;

    TextLane(String name, ModelInfo info, ModelExecutor executor, PagedKvCache kv, TextConfig config,
             Listeners listeners) {
        this(name, info, executor, kv, config, listeners, null);
    }

    /** A lane that encodes its requests' images inside its steps ({@code encoding}; null for text). */
    TextLane(String name, ModelInfo info, ModelExecutor executor, PagedKvCache kv, TextConfig config,
             Listeners listeners, @Nullable ImageEncoding encoding) {
        this.name = Objects.requireNonNull(name, "name");
        this.kv = Objects.requireNonNull(kv, "kv");
        this.maxWaiting = config.maxWaiting();
        int maxSeqs = Math.max(config.runningLimit(), SamplingParams.MAX_N);
        this.planner = new Planner(kv, config, maxSeqs, name, listeners, queued, queuedPeak, this::reject);
        this.emitter = new EventEmitter(info, name, planner, listeners, queued);
        this.encoder = encoding == null ? null : new EncoderSchedule(encoding);
        this.runner = new StepRunner(executor, kv, config.maxBatchTokens(), maxSeqs, planner, emitter, listeners,
                name, encoder);
        publish();
    }

    @Override
    public String name() {
        return name;
    }

    /** Any thread: takes a place in the waiting queue for a new request; false when it is full. */
    boolean reserveWaiting() {
        int held = queued.incrementAndGet();
        if (held > maxWaiting) {
            queued.decrementAndGet();
            return false;
        }
        queuedPeak.accumulateAndGet(held, Math::max);
        return true;
    }

    /** Any thread: a request is on its way to {@link #admit}. */
    void submitted() {
        inInbox.incrementAndGet();
    }

    /** Any thread: a request announced by {@link #submitted} never reached the loop. */
    void cancelledBeforeLoop() {
        inInbox.decrementAndGet();
    }

    @Override
    public void admit(TextJob job) {
        inInbox.decrementAndGet();
        planner.enqueue(job);
        publish();
    }

    @Override
    public void cancel(TextJob job) {
        if (!job.admitted && job.samples.isEmpty()) inInbox.updateAndGet(n -> Math.max(0, n - 1));
        emitter.cancel(job);
        publish();
    }

    @Override
    public boolean busy() {
        return !planner.isIdle();
    }

    @Override
    public boolean step() {
        StepPlan plan = planner.plan();
        if (plan.isEmpty()) {
            publish();
            return false;
        }
        runner.run(plan);
        publish();
        return true;
    }

    /** The output processor matched a stop string: end sample {@code index} after {@code keep} outputs. */
    void stopAt(TextJob job, int index, int keep) {
        emitter.stopAt(job, index, keep);
        publish();
    }

    @Override
    public void shutdown(JobFailure failure) {
        List<TextJob> left = new ArrayList<>();
        planner.collectRequests(left);
        for (TextJob r : left) emitter.fail(r, failure);
        planner.clear();
        publish();
    }

    private void reject(TextJob job, JobFailure failure) {
        emitter.fail(job, failure);
    }

    /**
     * The published statistics, with the waiting count live: the planner's queue (kept current at every change,
     * read first) plus the requests on their way to it, so that it never counts one request twice.
     */
    TextStats stats() {
        TextStats s = snapshot;
        int waiting = planner.numWaiting();
        int pending = Math.max(0, inInbox.get());
        return new TextStats(s.running(), waiting + pending, s.kvUsage(), s.kvTotalBlocks(), s.kvFreeBlocks(),
                s.preemptions(), s.prefixHitTokens(), s.prefixQueryTokens(), s.steps(), s.kvBlockSize(),
                queuedPeak.get());
    }

    /** Preempted sequences among the waiting (loop thread, or a diagnostic read). */
    int waitingPreempted() {
        return planner.numWaitingPreempted();
    }

    EncoderStats encoderStats() {
        return encoder == null ? new EncoderStats(0, 0, 0, 0, 0, 0) : encoder.stats();
    }

    long tokensComputed() {
        return runner.tokensComputed();
    }

    long tokensNeeded() {
        return emitter.tokensNeeded();
    }

    int peakUsedBlocks() {
        return runner.peakUsedBlocks();
    }

    KvStats kvStatsAtPeak() {
        return runner.kvAtPeak();
    }

    private void publish() {
        int free = kv.numFreeBlocks();
        int total = kv.totalBlocks();
        snapshot = new TextStats(planner.numRunning(), planner.numWaiting(), (double) (total - free) / total,
                total, free, planner.preemptions(), planner.prefixHitTokens(), planner.prefixQueryTokens(),
                runner.steps(), kv.blockSize(), queuedPeak.get());
    }
}
