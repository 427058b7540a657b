package dev.tessera.scheduler;

import dev.tessera.engine.Engine;
import dev.tessera.engine.InvalidArgumentException;
import dev.tessera.engine.model.ModelInfo;
import dev.tessera.engine.runtime.ModelExecutor;
import dev.tessera.engine.runtime.StepBatch;
import dev.tessera.engine.sampling.Logprobs;
import dev.tessera.engine.sampling.Sampler;
import dev.tessera.engine.sampling.SamplingParams;
import dev.tessera.engine.text.Tokenizer;
import dev.tessera.kvcache.KvStats;
import dev.tessera.kvcache.PagedKvCache;
import dev.tessera.scheduler.GenerationEvent.FinishReason;
import dev.tessera.scheduler.GenerationEvent.Finished;
import dev.tessera.scheduler.GenerationEvent.Timings;
import dev.tessera.scheduler.GenerationEvent.TokenDelta;
import dev.tessera.scheduler.GenerationEvent.TokenLogprob;
import dev.tessera.scheduler.GenerationEvent.Usage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;

/**
 * Iteration-level continuous batching of text generation over a paged KV cache.
 *
 * <p><b>Threads.</b> One loop thread owns the KV cache, the executor, the sampler and every request's state.
 * {@link #generate} (on subscription) and cancellation only enqueue a command on a lock-free queue and wake the loop;
 * they never wait for it. The loop parks when there is nothing to do.
 *
 * <p><b>A step.</b> Each iteration (1) applies submissions and cancellations, so a cancelled request's blocks are
 * free before the next step; (2) plans within the token budget and the running limit: one token for every running
 * sequence that decodes, then prefill chunks of running sequences, then new admissions from the waiting queue
 * (priority, then arrival), each admission first attaching the KV of its longest cached prefix; (3) packs the plan
 * into one {@link StepBatch} with no padding, runs it, and samples one token for every sequence whose computed
 * tokens reached its end. When a sequence needs a block and none is left, the least important, newest running
 * sequence is preempted: its blocks are freed and it goes back to the front of the waiting queue with its prompt and
 * output so far as the tokens to recompute; its output continues with nothing duplicated or lost.
 *
 * <p><b>n &gt; 1.</b> The prompt is computed once by a group sequence; when its last prompt token is computed, the
 * group forks (copy-on-write) into n samples, each with seed {@code seed + index} and its own text state.
 *
 * <p><b>Backpressure.</b> Events are emitted on the loop thread into the request's {@link FluxSink}. A request whose
 * subscriber has not requested the events already emitted, by {@link SchedulerConfig#maxPendingEvents()} or more, is
 * not scheduled (it keeps its blocks) until demand returns; nothing is dropped. Subscribers that do slow work should
 * {@code publishOn} their own scheduler.
 *
 * <p><b>Errors.</b> An exception from the executor fails the requests of that step ({@code onError}, listeners see
 * {@link FinishReason#ERROR}); their blocks are freed and the loop goes on.
 */
public final class Scheduler implements GenerationService, AutoCloseable {
    private static final Logger logger = LoggerFactory.getLogger(Scheduler.class);

    private final ModelExecutor executor;
    private final Tokenizer tokenizer;
    private final PagedKvCache kv;
    private final SchedulerConfig config;
    private final ModelInfo info;
    private final int vocabSize;
    private final int maxPromptTokens;

    private final Queue<Object> inbox = new ConcurrentLinkedQueue<>();
    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicLong arrivals = new AtomicLong();
    private final List<SchedulerListener> listeners = new CopyOnWriteArrayList<>();
    private final Object idleLock = new Object();
    private final Thread thread;
    private volatile boolean draining;
    private volatile boolean closed;
    private volatile boolean started;

    // Loop-owned state.
    private final Sampler sampler;
    private final StepBatch batch;
    private final float[] logits;
    private final PriorityQueue<Sequence> waiting = new PriorityQueue<>(Comparator
            .comparingInt((Sequence s) -> s.request.priority)
            .thenComparing(s -> !s.resumed)
            .thenComparingLong(s -> s.request.arrivalOrder)
            .thenComparingInt(s -> s.index));
    private final List<Sequence> running = new ArrayList<>();
    private Sequence[] runScratch = new Sequence[16];
    private final Sequence[] planSeq;
    private final int[] planCount;
    private final boolean[] planLogits;
    private int planSize;
    private int budget;
    private int runningSeats;
    private long nextSeqId;

    // Published by the loop for other threads.
    private volatile SchedulerStats snapshot;
    private volatile long preemptions;
    private volatile long prefixHitTokens;
    private volatile long prefixQueryTokens;
    private volatile long steps;
    private volatile long tokensComputed;
    private volatile long tokensNeeded;
    private volatile int peakUsedBlocks;
    private volatile KvStats kvAtPeak;

    /**
     * @param executor  runs steps; not owned (the caller closes it)
     * @param tokenizer encodes prompts and decodes output; not owned
     * @param kvCache   block bookkeeping over the executor's KV store; used by the loop thread only from now on
     * @param config    limits and policy
     */
    public Scheduler(ModelExecutor executor, Tokenizer tokenizer, PagedKvCache kvCache, SchedulerConfig config) {
        this.executor = Objects.requireNonNull(executor, "executor");
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        this.kv = Objects.requireNonNull(kvCache, "kvCache");
        this.config = Objects.requireNonNull(config, "config");
        this.info = executor.info();
        this.vocabSize = info.vocabSize();
        this.maxPromptTokens = Math.min(config.maxPromptTokens(), info.maxModelLen() - 1);
        int maxSeqs = Math.max(config.runningLimit(), SamplingParams.MAX_N);
        int maxBlocksPerSeq = (info.maxModelLen() + kv.blockSize() - 1) / kv.blockSize() + 1;
        this.sampler = new Sampler(vocabSize);
        this.batch = new StepBatch(config.maxBatchTokens(), maxSeqs, maxBlocksPerSeq);
        this.logits = new float[maxSeqs * vocabSize];
        this.planSeq = new Sequence[maxSeqs];
        this.planCount = new int[maxSeqs];
        this.planLogits = new boolean[maxSeqs];
        this.kvAtPeak = kv.stats();
        this.thread = new Thread(this::loop, "tessera-scheduler");
        this.thread.setDaemon(true);
        publishStats();
    }

    /**
     * A scheduler over a loaded engine: a fresh {@link PagedKvCache} over the engine's KV store. The engine stays
     * owned by the caller; close the scheduler first, then the engine. One scheduler at a time may use an engine.
     *
     * @throws IllegalArgumentException if the config asks for more tokens or sequences per step than the engine's
     *     executor was sized for
     */
    public static Scheduler create(Engine engine, SchedulerConfig config) {
        Objects.requireNonNull(engine, "engine");
        Objects.requireNonNull(config, "config");
        if (config.maxBatchTokens() > engine.maxBatchTokens()) {
            throw new IllegalArgumentException("maxBatchTokens " + config.maxBatchTokens()
                    + " exceeds the engine's " + engine.maxBatchTokens());
        }
        int seqs = Math.max(config.runningLimit(), SamplingParams.MAX_N);
        if (seqs > engine.maxSeqs()) {
            throw new IllegalArgumentException("the running limit (" + seqs + ", at least n's maximum "
                    + SamplingParams.MAX_N + ") exceeds the engine's " + engine.maxSeqs() + " sequences per step");
        }
        PagedKvCache kv = new PagedKvCache(engine.kvStore(), config.enablePrefixCaching());
        return new Scheduler(engine.executor(), engine.tokenizer(), kv, config);
    }

    /** Starts the loop thread. Requests submitted before wait for it. */
    public Scheduler start() {
        synchronized (idleLock) {
            if (!started) {
                started = true;
                thread.start();
                logger.info("scheduler started: policy {}, {} seqs, {} tokens per step, {} KV blocks of {}",
                        config.policy(), config.runningLimit(), config.maxBatchTokens(), kv.totalBlocks(),
                        kv.blockSize());
            }
        }
        return this;
    }

    public SchedulerConfig config() {
        return config;
    }

    @Override
    public ModelInfo model() {
        return info;
    }

    @Override
    public Flux<GenerationEvent> generate(GenerateRequest request) {
        Objects.requireNonNull(request, "request");
        SamplingParams params = request.params();
        if (params == null) throw new InvalidArgumentException("params", "sampling parameters are required");
        int[] prompt = promptTokens(request);
        params.validate(vocabSize, prompt.length, info.maxModelLen());
        long blocks = ((long) prompt.length + params.maxTokens() + kv.blockSize() - 1) / kv.blockSize();
        if (blocks > kv.totalBlocks()) {
            throw new InvalidArgumentException("max_tokens", "prompt + max_tokens need " + blocks
                    + " KV blocks; the pool holds " + kv.totalBlocks());
        }
        String id = request.requestId() == null ? "" : request.requestId();
        return Flux.create(sink -> submit(id, prompt, params, request.priority(), sink),
                FluxSink.OverflowStrategy.BUFFER);
    }

    private int[] promptTokens(GenerateRequest request) {
        int[] prompt;
        if (request.promptTokenIds() != null) {
            prompt = request.promptTokenIds().clone();
            for (int i = 0; i < prompt.length; i++) {
                if (prompt[i] < 0 || prompt[i] >= vocabSize) {
                    throw new InvalidArgumentException("prompt_token_ids", "id " + prompt[i] + " at index " + i
                            + " is outside the vocabulary [0, " + vocabSize + ")");
                }
            }
        } else if (request.prompt() != null) {
            prompt = tokenizer.encode(request.prompt(), true);
        } else {
            throw new InvalidArgumentException("prompt", "a prompt or prompt token ids are required");
        }
        if (prompt.length == 0) throw new InvalidArgumentException("prompt", "must not be empty");
        if (prompt.length > maxPromptTokens) {
            throw new InvalidArgumentException("prompt", prompt.length + " tokens exceed the limit of "
                    + maxPromptTokens);
        }
        return prompt;
    }

    private void submit(String id, int[] prompt, SamplingParams params, int priority,
                        FluxSink<GenerationEvent> sink) {
        if (draining || closed) {
            sink.error(new DrainingException());
            return;
        }
        if (queued.incrementAndGet() > config.maxWaiting()) {
            queued.decrementAndGet();
            sink.error(new QueueFullException(config.maxWaiting()));
            return;
        }
        long seed = params.seed() != null ? params.seed() : ThreadLocalRandom.current().nextLong();
        RequestState req = new RequestState(id, prompt, params, priority, arrivals.getAndIncrement(),
                System.nanoTime(), seed, sink);
        sink.onRequest(n -> {
            req.addDemand(n);
            LockSupport.unpark(thread);
        });
        sink.onCancel(() -> {
            req.cancelled = true;
            inbox.add(new Cancel(req));
            LockSupport.unpark(thread);
        });
        inFlight.incrementAndGet();
        inbox.add(req);
        LockSupport.unpark(thread);
    }

    private record Cancel(RequestState request) {
    }

    @Override
    public SchedulerStats stats() {
        SchedulerStats s = snapshot;
        int pending = pendingSubmissions();
        if (pending == 0) return s;
        return new SchedulerStats(s.running(), s.waiting() + pending, s.kvUsage(), s.kvTotalBlocks(),
                s.kvFreeBlocks(), s.preemptions(), s.prefixHitTokens(), s.prefixQueryTokens(), s.steps());
    }

    @Override
    public void addListener(SchedulerListener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    @Override
    public void drain() {
        draining = true;
        logger.info("draining: no new requests are admitted");
    }

    @Override
    public boolean awaitIdle(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (idleLock) {
            while (inFlight.get() > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) return false;
                idleLock.wait(Math.max(1, left / 1_000_000));
            }
        }
        return true;
    }

    /** Tokens packed into executed steps so far (prefill, recompute and decode; padding never exists here). */
    public long tokensComputed() {
        return tokensComputed;
    }

    /**
     * Tokens that finished samples needed computed: uncached prompt tokens once per request, plus every output token
     * but the last. Equal to {@link #tokensComputed()} when nothing was preempted or cancelled.
     */
    public long tokensNeeded() {
        return tokensNeeded;
    }

    /** Most KV blocks in use after any step so far. */
    public int peakUsedBlocks() {
        return peakUsedBlocks;
    }

    /** KV statistics right after the step with the most blocks in use. */
    public KvStats kvStatsAtPeak() {
        return kvAtPeak;
    }

    /**
     * Stops the loop. Requests still running or waiting end with an error; their blocks are freed. The executor and
     * tokenizer are not closed (their owner does that).
     */
    @Override
    public void close() {
        closed = true;
        if (Thread.currentThread() == thread) return; // called from a subscriber on the loop: it exits after this step
        if (started) {
            LockSupport.unpark(thread);
            try {
                thread.join(30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        } else {
            shutdown();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // The loop.

    private void loop() {
        while (!closed) {
            try {
                drainInbox();
                if (running.isEmpty() && waiting.isEmpty()) {
                    publishStats();
                    LockSupport.park(this);
                    continue;
                }
                plan();
                if (planSize == 0) {
                    publishStats();
                    LockSupport.park(this);
                    continue;
                }
                runStep();
                publishStats();
            } catch (Throwable t) {
                logger.error("scheduler loop error (the loop goes on)", t);
            }
        }
        shutdown();
    }

    private void drainInbox() {
        Object cmd;
        while ((cmd = inbox.poll()) != null) {
            if (cmd instanceof RequestState req) {
                accept(req);
            } else if (cmd instanceof Cancel c) {
                cancel(c.request());
            }
        }
    }

    private void accept(RequestState req) {
        if (req.cancelled) {
            queued.decrementAndGet();
            endRequest(req);
            return;
        }
        int n = req.params.n();
        int capacity = req.promptTokens.length + req.params.maxTokens();
        int[] tokens = Arrays.copyOf(req.promptTokens, capacity);
        Sequence seq = new Sequence(nextSeqId++, req, 0, tokens, req.promptTokens.length,
                req.promptTokens.length, outputText(req));
        seq.group = n > 1;
        req.samples.add(seq);
        waiting.add(seq);
    }

    private OutputText outputText(RequestState req) {
        return new OutputText(tokenizer, req.promptTokens, req.promptTokens.length, req.params.stop());
    }

    private void cancel(RequestState req) {
        if (req.done) return;
        for (Sequence s : req.samples) {
            if (s.state == Sequence.State.FINISHED) continue;
            removeSequence(s);
            notifyFinished(FinishReason.CANCELLED, usage(s), timings(s, System.nanoTime()));
        }
        if (!req.admitted) queued.decrementAndGet();
        logger.debug("{} cancelled", req);
        endRequest(req);
    }

    /** Takes {@code s} out of the running batch or the waiting queue and frees its blocks. */
    private void removeSequence(Sequence s) {
        if (s.state == Sequence.State.RUNNING) {
            running.remove(s);
            runningSeats -= s.seats();
            unplan(s);
        } else if (s.state == Sequence.State.WAITING) {
            waiting.remove(s);
        }
        kv.free(s.id);
        s.state = Sequence.State.FINISHED;
    }

    private void endRequest(RequestState req) {
        if (req.done) return;
        req.done = true;
        if (inFlight.decrementAndGet() == 0) {
            publishStats();
            synchronized (idleLock) {
                idleLock.notifyAll();
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Planning.

    private void plan() {
        planSize = 0;
        budget = config.maxBatchTokens();
        if (config.policy() == BatchingPolicy.STATIC && running.isEmpty()) admitStaticBatch();
        int n = running.size();
        if (runScratch.length < n) runScratch = new Sequence[Math.max(n, runScratch.length * 2)];
        running.toArray(runScratch);
        // 1. decodes: one token for each running sequence whose next token awaits only its last one
        for (int i = 0; i < n && budget > 0 && planSize < planSeq.length; i++) {
            Sequence s = runScratch[i];
            if (s.state != Sequence.State.RUNNING || s.remaining() != 1 || paused(s)) continue;
            if (reserve(s, 1)) addToPlan(s, 1);
        }
        // 2. chunked prefills (and recomputations) of running sequences
        for (int i = 0; i < n && budget > 0 && planSize < planSeq.length; i++) {
            Sequence s = runScratch[i];
            if (s.state != Sequence.State.RUNNING || s.remaining() <= 1 || isPlanned(s) || paused(s)) continue;
            int chunk = Math.min(budget, s.remaining());
            if (reserve(s, chunk)) addToPlan(s, chunk);
        }
        Arrays.fill(runScratch, 0, n, null);
        // 3. admissions
        if (config.policy() != BatchingPolicy.STATIC) admit();
    }

    private boolean paused(Sequence s) {
        return s.request.buffered() >= config.maxPendingEvents();
    }

    /** Allocates slots for {@code count} new tokens of a running sequence, preempting others if needed. */
    private boolean reserve(Sequence s, int count) {
        while (!kv.allocateSlots(s.id, s.numComputed, count)) {
            Sequence victim = pickVictim();
            preempt(victim);
            if (victim == s) return false;
        }
        return true;
    }

    /** The least important (highest priority value), newest running sequence. */
    private Sequence pickVictim() {
        Sequence victim = null;
        for (Sequence s : running) {
            if (victim == null || s.request.priority > victim.request.priority
                    || (s.request.priority == victim.request.priority
                    && (s.request.arrivalOrder > victim.request.arrivalOrder
                    || (s.request.arrivalOrder == victim.request.arrivalOrder && s.index > victim.index)))) {
                victim = s;
            }
        }
        return victim;
    }

    private void preempt(Sequence s) {
        running.remove(s);
        runningSeats -= s.seats();
        unplan(s);
        kv.free(s.id);
        s.numComputed = 0;
        s.state = Sequence.State.WAITING;
        s.resumed = true;
        waiting.add(s);
        preemptions++;
        logger.debug("preempted {}", s);
        for (SchedulerListener l : listeners) {
            try {
                l.onPreemption();
            } catch (RuntimeException e) {
                logger.warn("listener failed", e);
            }
        }
    }

    private void admit() {
        int limit = config.runningLimit();
        while (!waiting.isEmpty() && budget > 0 && planSize < planSeq.length) {
            Sequence s = waiting.peek();
            if (!running.isEmpty() && runningSeats + s.seats() > limit) break;
            waiting.poll();
            attachPrefix(s);
            int chunk = Math.min(budget, s.remaining());
            if (!kv.allocateSlots(s.id, s.numComputed, chunk)) {
                kv.free(s.id);
                s.numComputed = 0;
                if (running.isEmpty()) {
                    // Everything is free or evictable, yet it does not fit: it never will.
                    failRequest(s.request, new IllegalStateException("KV cache too small for " + s.request
                            + ": " + kv.totalBlocks() + " blocks of " + kv.blockSize() + " tokens"));
                    continue;
                }
                waiting.add(s);
                break;
            }
            markRunning(s);
            addToPlan(s, chunk);
        }
    }

    /** STATIC: when nothing runs, a whole batch joins at once; its prefills are then scheduled like any other. */
    private void admitStaticBatch() {
        while (!waiting.isEmpty()) {
            Sequence s = waiting.peek();
            if (!running.isEmpty() && runningSeats + s.seats() > config.staticBatchSize()) break;
            waiting.poll();
            attachPrefix(s);
            markRunning(s);
        }
    }

    private void attachPrefix(Sequence s) {
        int cached = kv.attachCachedPrefix(s.id, s.tokens, s.len);
        s.numComputed = cached;
        prefixQueryTokens += s.len;
        prefixHitTokens += cached;
        if (!s.request.admitted) s.request.cachedTokens = cached;
    }

    private void markRunning(Sequence s) {
        s.state = Sequence.State.RUNNING;
        running.add(s);
        runningSeats += s.seats();
        RequestState req = s.request;
        if (!req.admitted) {
            req.admitted = true;
            req.firstScheduledNanos = System.nanoTime();
            queued.decrementAndGet();
        }
    }

    private void addToPlan(Sequence s, int count) {
        planSeq[planSize] = s;
        planCount[planSize] = count;
        planLogits[planSize] = count == s.remaining();
        planSize++;
        budget -= count;
    }

    private boolean isPlanned(Sequence s) {
        for (int i = 0; i < planSize; i++) {
            if (planSeq[i] == s) return true;
        }
        return false;
    }

    private void unplan(Sequence s) {
        for (int i = 0; i < planSize; i++) {
            if (planSeq[i] == s) {
                budget += planCount[i];
                System.arraycopy(planSeq, i + 1, planSeq, i, planSize - i - 1);
                System.arraycopy(planCount, i + 1, planCount, i, planSize - i - 1);
                System.arraycopy(planLogits, i + 1, planLogits, i, planSize - i - 1);
                planSeq[--planSize] = null;
                return;
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Execution and sampling.

    private void runStep() {
        batch.clear();
        int bs = kv.blockSize();
        for (int i = 0; i < planSize; i++) {
            Sequence s = planSeq[i];
            batch.addSequence(s.tokens, s.numComputed, planCount[i], kv.blockTable(s.id), kv.numBlocks(s.id), bs,
                    planLogits[i]);
        }
        int numSeqs = batch.numSeqs();
        int numTokens = batch.numTokens();
        long t0 = System.nanoTime();
        try {
            executor.execute(batch, logits);
        } catch (RuntimeException e) {
            logger.error("step failed ({}); failing its requests", batch, e);
            Map<RequestState, Boolean> failed = new IdentityHashMap<>();
            for (int i = 0; i < planSize; i++) failed.put(planSeq[i].request, Boolean.TRUE);
            Arrays.fill(planSeq, 0, planSize, null);
            planSize = 0;
            for (RequestState r : failed.keySet()) failRequest(r, e);
            return;
        }
        long nanos = System.nanoTime() - t0;
        steps++;
        tokensComputed += numTokens;
        for (int i = 0; i < planSize; i++) {
            Sequence s = planSeq[i];
            s.numComputed += planCount[i];
            kv.commit(s.id, s.tokens, s.numComputed);
        }
        trackPeak();
        int row = 0;
        int count = planSize;
        planSize = 0; // finishing or failing below must not shift the plan being walked
        for (int i = 0; i < count; i++) {
            Sequence s = planSeq[i];
            planSeq[i] = null;
            if (!planLogits[i]) continue;
            int offset = row++ * vocabSize;
            try {
                if (s.group) {
                    fork(s);
                    for (Sequence sample : s.request.samples) sampleNext(sample, offset);
                } else {
                    sampleNext(s, offset);
                }
            } catch (RuntimeException e) {
                logger.error("sampling failed for {}", s, e);
                failRequest(s.request, e);
            }
        }
        for (SchedulerListener l : listeners) {
            try {
                l.onStep(numSeqs, numTokens, nanos);
            } catch (RuntimeException e) {
                logger.warn("listener failed", e);
            }
        }
    }

    private void fork(Sequence parent) {
        RequestState req = parent.request;
        parent.group = false;
        for (int k = 1; k < req.params.n(); k++) {
            Sequence child = new Sequence(nextSeqId++, req, k, parent.tokens.clone(), parent.len, parent.promptLen,
                    outputText(req));
            kv.fork(parent.id, child.id);
            child.numComputed = parent.numComputed;
            child.state = Sequence.State.RUNNING;
            running.add(child);
            req.samples.add(child);
        }
    }

    private void sampleNext(Sequence s, int offset) {
        if (s.state != Sequence.State.RUNNING) return;
        RequestState req = s.request;
        SamplingParams p = req.params;
        int token = sampler.sample(logits, offset, p, s.tokens, s.promptLen, s.len, s.seed, s.outputs);
        List<TokenLogprob> lps = List.of();
        if (p.logprobs() > 0) {
            Logprobs lp = sampler.logprobs(token, p.logprobs());
            lps = List.of(new TokenLogprob(lp.tokenId(), lp.logprob(), lp.topIds(), lp.topLogprobs()));
        }
        s.append(token);
        long now = System.nanoTime();
        s.recordTokenTime(now);
        FinishReason reason = null;
        String text;
        if ((!p.ignoreEos() && contains(info.eosTokenIds(), token)) || contains(p.stopTokenIds(), token)) {
            text = s.text.flush();
            reason = FinishReason.STOP;
        } else {
            text = s.text.add(token);
            if (s.text.stopped()) {
                reason = FinishReason.STOP;
            } else if (s.outputs >= p.maxTokens() || s.len >= info.maxModelLen()) {
                reason = FinishReason.LENGTH;
                text = text + s.text.flush();
            }
        }
        req.emit(new TokenDelta(s.index, text, new int[] {token}, lps));
        if (reason != null) finish(s, reason, now);
    }

    private static boolean contains(int[] ids, int token) {
        for (int id : ids) {
            if (id == token) return true;
        }
        return false;
    }

    private void finish(Sequence s, FinishReason reason, long now) {
        RequestState req = s.request;
        removeSequence(s);
        Usage usage = usage(s);
        Timings timings = timings(s, now);
        tokensNeeded += (s.index == 0 ? s.promptLen - req.cachedTokens : 0) + Math.max(0, s.outputs - 1);
        req.emit(new Finished(s.index, reason, usage, timings));
        notifyFinished(reason, usage, timings);
        if (++req.finishedSamples == req.params.n()) {
            req.sink.complete();
            endRequest(req);
        }
    }

    private Usage usage(Sequence s) {
        return new Usage(s.promptLen, s.outputs, s.request.cachedTokens);
    }

    private Timings timings(Sequence s, long now) {
        RequestState req = s.request;
        double queueMs = req.admitted ? (req.firstScheduledNanos - req.arrivalNanos) / 1e6 : (now - req.arrivalNanos)
                / 1e6;
        double ttftMs = s.outputs > 0 ? (s.firstTokenNanos - req.arrivalNanos) / 1e6 : 0;
        return new Timings(queueMs, ttftMs, (now - req.arrivalNanos) / 1e6,
                Arrays.copyOf(s.interTokenMs, s.numInterToken));
    }

    private void notifyFinished(FinishReason reason, Usage usage, Timings timings) {
        for (SchedulerListener l : listeners) {
            try {
                l.onFinished(reason, usage, timings);
            } catch (RuntimeException e) {
                logger.warn("listener failed", e);
            }
        }
    }

    /** Ends every sample of {@code req} with {@code error}: blocks freed, onError to the subscriber. */
    private void failRequest(RequestState req, Throwable error) {
        if (req.done) return;
        long now = System.nanoTime();
        for (Sequence s : req.samples) {
            if (s.state == Sequence.State.FINISHED) continue;
            removeSequence(s);
            notifyFinished(FinishReason.ERROR, usage(s), timings(s, now));
        }
        if (!req.admitted) queued.decrementAndGet();
        req.sink.error(error);
        endRequest(req);
    }

    private void trackPeak() {
        if (kv.totalBlocks() - kv.numFreeBlocks() <= peakUsedBlocks) return;
        KvStats st = kv.stats();
        if (st.usedBlocks() > peakUsedBlocks) {
            peakUsedBlocks = st.usedBlocks();
            kvAtPeak = st;
        }
    }

    private void publishStats() {
        int free = kv.numFreeBlocks();
        int total = kv.totalBlocks();
        snapshot = new SchedulerStats(running.size(), waiting.size(),
                (double) (total - free) / total, total, free, preemptions, prefixHitTokens, prefixQueryTokens, steps);
    }

    private int pendingSubmissions() {
        int n = 0;
        for (Object o : inbox) {
            if (o instanceof RequestState) n++;
        }
        return n;
    }

    /** On the loop thread as it exits (or on close() if it never started): ends whatever is left. */
    private void shutdown() {
        drainInbox();
        List<RequestState> left = new ArrayList<>();
        for (Sequence s : running) left.add(s.request);
        for (Sequence s : waiting) left.add(s.request);
        IllegalStateException closedError = new IllegalStateException("scheduler closed");
        for (RequestState r : left) failRequest(r, closedError);
        running.clear();
        waiting.clear();
        publishStats();
        logger.info("scheduler stopped after {} steps", steps);
    }
}
