package dev.tessera.scheduler.text;

import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.engine.text.runtime.ModelExecutor;
import dev.tessera.engine.text.runtime.StepBatch;
import dev.tessera.engine.text.sampling.Logprobs;
import dev.tessera.engine.text.sampling.Sampler;
import dev.tessera.engine.text.sampling.SamplingParams;
import dev.tessera.kvcache.KvStats;
import dev.tessera.kvcache.PagedKvCache;
import dev.tessera.scheduler.core.JobFailure;
import dev.tessera.scheduler.core.Listeners;
import dev.tessera.scheduler.core.ModelKind;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Executes a {@link StepPlan}, as vLLM's model runner does: packs it into one {@link StepBatch} with no padding, runs
 * it on the {@link ModelExecutor}, commits the new KV to the cache, and samples one token for every sequence whose
 * computed tokens reached its end (forking an {@code n > 1} group into its samples first); the
 * {@link EventEmitter} turns each token into events. An exception from the executor fails the requests of that step;
 * one from sampling fails that sequence's request.
 *
 * <p>The batch, the logits and the sampler are sized once; a step allocates nothing here beyond what the events need.
 * Owned by the scheduler loop; the counters are published for other threads.
 */
final class StepRunner {
    private static final Logger logger = LoggerFactory.getLogger(StepRunner.class);

    private final ModelExecutor executor;
    private final PagedKvCache kv;
    private final Planner planner;
    private final EventEmitter emitter;
    private final Listeners listeners;
    private final String model;
    private final int vocabSize;
    private final Sampler sampler;
    private final StepBatch batch;
    private final float[] logits;
    /** Vision encoding inside the step (a vision-language model); null for text. */
    private final @Nullable EncoderSchedule encoder;

    private volatile long steps;
    private volatile long tokensComputed;
    private volatile int peakUsedBlocks;
    private volatile KvStats kvAtPeak;

    /**
     * @param executor       runs steps; not owned
     * @param kv             block bookkeeping; used by the loop thread only
     * @param maxBatchTokens most tokens in one step
     * @param maxSeqs        most sequences in one step
     * @param planner        forks {@code n > 1} groups into their samples
     * @param emitter        turns sampled tokens into events and ends failed requests
     * @param listeners      told about every step
     * @param model          the served name, for listeners
     */
    StepRunner(ModelExecutor executor, PagedKvCache kv, int maxBatchTokens, int maxSeqs, Planner planner,
               EventEmitter emitter, Listeners listeners, String model) {
        this(executor, kv, maxBatchTokens, maxSeqs, planner, emitter, listeners, model, null);
    }

    /** A runner that also encodes the step's images first ({@code encoder}, null for text). */
    StepRunner(ModelExecutor executor, PagedKvCache kv, int maxBatchTokens, int maxSeqs, Planner planner,
               EventEmitter emitter, Listeners listeners, String model, @Nullable EncoderSchedule encoder) {
        this.executor = Objects.requireNonNull(executor, "executor");
        this.kv = Objects.requireNonNull(kv, "kv");
        this.planner = Objects.requireNonNull(planner, "planner");
        this.emitter = Objects.requireNonNull(emitter, "emitter");
        this.listeners = Objects.requireNonNull(listeners, "listeners");
        this.model = Objects.requireNonNull(model, "model");
        ModelInfo info = executor.info();
        this.vocabSize = info.vocabSize();
        int maxBlocksPerSeq = (info.maxModelLen() + kv.blockSize() - 1) / kv.blockSize() + 1;
        this.sampler = new Sampler(vocabSize);
        this.batch = new StepBatch(maxBatchTokens, maxSeqs, maxBlocksPerSeq);
        this.logits = new float[maxSeqs * vocabSize];
        this.kvAtPeak = kv.stats();
        this.encoder = encoder;
        if (encoder != null) batch.enableEmbeds(encoder.hiddenSize());
    }

    /** Steps executed so far. */
    long steps() {
        return steps;
    }

    /** Tokens packed into executed steps so far. */
    long tokensComputed() {
        return tokensComputed;
    }

    /** Most KV blocks in use after any step so far. */
    int peakUsedBlocks() {
        return peakUsedBlocks;
    }

    /** KV statistics right after the step with the most blocks in use. */
    KvStats kvAtPeak() {
        return kvAtPeak;
    }

    /** Runs {@code plan} and samples; the plan is empty afterwards. */
    void run(StepPlan plan) {
        if (encoder != null) {
            encoder.fit(plan);
            if (plan.isEmpty()) return;
        }
        batch.clear();
        int bs = kv.blockSize();
        for (int i = 0; i < plan.size(); i++) {
            Sequence s = plan.sequence(i);
            MultimodalPrompt mm = s.request.mm;
            batch.addSequence(s.tokens, s.numComputed, plan.count(i), kv.blockTable(s.id), kv.numBlocks(s.id), bs,
                    plan.needsLogits(i), mm == null ? null : mm.positions(), s.promptLen,
                    mm == null ? 0 : mm.ropeDelta());
        }
        int numSeqs = batch.numSeqs();
        int numTokens = batch.numTokens();
        long t0 = System.nanoTime();
        try {
            if (encoder != null) encoder.encodeAndFill(plan, batch);
            executor.execute(batch, logits);
        } catch (RuntimeException e) {
            logger.error("step failed ({}); failing its requests", batch, e);
            Map<TextJob, Boolean> failed = new IdentityHashMap<>();
            for (int i = 0; i < plan.size(); i++) failed.put(plan.sequence(i).request, Boolean.TRUE);
            plan.clear();
            JobFailure failure = internal("the model failed on this step", e);
            for (TextJob r : failed.keySet()) emitter.fail(r, failure);
            return;
        }
        long nanos = System.nanoTime() - t0;
        steps++;
        tokensComputed += numTokens;
        for (int i = 0; i < plan.size(); i++) {
            Sequence s = plan.sequence(i);
            s.numComputed += plan.count(i);
            kv.commit(s.id, s.cacheKeys(), s.numComputed);
            if (encoder != null) encoder.release(s);
        }
        trackPeak();
        int row = 0;
        int count = plan.detach(); // finishing or failing below must not shift the plan being walked
        for (int i = 0; i < count; i++) {
            Sequence s = plan.take(i);
            if (!plan.needsLogits(i)) continue;
            int offset = row++ * vocabSize;
            try {
                if (s.group) {
                    planner.fork(s);
                    for (Sequence sample : s.request.samples) sampleNext(sample, offset);
                } else {
                    sampleNext(s, offset);
                }
            } catch (RuntimeException e) {
                logger.error("sampling failed for {}", s, e);
                emitter.fail(s.request, internal("sampling failed", e));
            }
        }
        listeners.onStep(model, ModelKind.TEXT_GENERATION, numSeqs, numTokens, nanos);
    }

    private void sampleNext(Sequence s, int offset) {
        if (s.state != Sequence.State.RUNNING) return;
        SamplingParams p = s.request.params;
        int token = sampler.sample(logits, offset, p, s.tokens, s.promptLen, s.len, s.seed, s.outputs);
        Logprobs lp = p.logprobs() > 0 ? sampler.logprobs(token, p.logprobs()) : null;
        s.append(token);
        long now = System.nanoTime();
        s.recordTokenTime(now);
        emitter.token(s, token, lp, now);
    }

    private static JobFailure internal(String what, RuntimeException e) {
        return JobFailure.of(JobFailure.Code.INTERNAL, what + ": " + e.getMessage());
    }

    private void trackPeak() {
        if (kv.totalBlocks() - kv.numFreeBlocks() <= peakUsedBlocks) return;
        KvStats st = kv.stats();
        if (st.usedBlocks() > peakUsedBlocks) {
            peakUsedBlocks = st.usedBlocks();
            kvAtPeak = st;
        }
    }
}
