package dev.tessera.scheduler;

import dev.tessera.engine.text.TextEngine;
import dev.tessera.engine.InvalidArgumentException;
import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.engine.text.runtime.ModelExecutor;
import dev.tessera.engine.text.runtime.StepBatch;
import dev.tessera.engine.text.sampling.SamplingParams;
import dev.tessera.engine.text.tokenizer.Tokenizer;
import dev.tessera.kvcache.KvStats;
import dev.tessera.kvcache.PagedKvCache;
import dev.tessera.scheduler.GenerationEvent.FinishReason;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
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
 *
 * <p><b>Parts.</b> This class is the facade: validation, the inbox, the loop thread, lifecycle and statistics. The
 * {@link Planner} fills a {@link StepPlan} (step 2), the {@link StepRunner} executes it (step 3), and the
 * {@link EventEmitter} turns sampled tokens into events and ends requests.
 */
public final class Scheduler implements GenerationService, AutoCloseable {
    private static final Logger logger = LoggerFactory.getLogger(Scheduler.class);

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
    private final Listeners listeners = new Listeners();
    private final Object idleLock = new Object();
    private final Thread thread;
    private volatile boolean draining;
    private volatile boolean closed;
    private volatile boolean started;

    // Loop-owned parts.
    private final Planner planner;
    private final EventEmitter emitter;
    private final StepRunner runner;

    // Published by the loop for other threads.
    private volatile SchedulerStats snapshot;

    /**
     * @param executor  runs steps; not owned (the caller closes it)
     * @param tokenizer encodes prompts and decodes output; not owned
     * @param kvCache   block bookkeeping over the executor's KV store; used by the loop thread only from now on
     * @param config    limits and policy
     */
    public Scheduler(ModelExecutor executor, Tokenizer tokenizer, PagedKvCache kvCache, SchedulerConfig config) {
        Objects.requireNonNull(executor, "executor");
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        this.kv = Objects.requireNonNull(kvCache, "kvCache");
        this.config = Objects.requireNonNull(config, "config");
        this.info = executor.info();
        this.vocabSize = info.vocabSize();
        this.maxPromptTokens = Math.min(config.maxPromptTokens(), info.maxModelLen() - 1);
        int maxSeqs = Math.max(config.runningLimit(), SamplingParams.MAX_N);
        this.planner = new Planner(kv, config, maxSeqs, tokenizer, listeners, queued, this::failRequest);
        this.emitter = new EventEmitter(info, planner, listeners, queued, this::endRequest);
        this.runner = new StepRunner(executor, kv, config.maxBatchTokens(), maxSeqs, planner, emitter, listeners);
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
    public static Scheduler create(TextEngine engine, SchedulerConfig config) {
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
        listeners.add(listener);
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
        return runner.tokensComputed();
    }

    /**
     * Tokens that finished samples needed computed: uncached prompt tokens once per request, plus every output token
     * but the last. Equal to {@link #tokensComputed()} when nothing was preempted or cancelled.
     */
    public long tokensNeeded() {
        return emitter.tokensNeeded();
    }

    /** Most KV blocks in use after any step so far. */
    public int peakUsedBlocks() {
        return runner.peakUsedBlocks();
    }

    /** KV statistics right after the step with the most blocks in use. */
    public KvStats kvStatsAtPeak() {
        return runner.kvAtPeak();
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
                if (planner.isIdle()) {
                    publishStats();
                    LockSupport.park(this);
                    continue;
                }
                StepPlan plan = planner.plan();
                if (plan.isEmpty()) {
                    publishStats();
                    LockSupport.park(this);
                    continue;
                }
                runner.run(plan);
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
                emitter.cancel(c.request());
            }
        }
    }

    private void accept(RequestState req) {
        if (req.cancelled) {
            queued.decrementAndGet();
            endRequest(req);
            return;
        }
        planner.enqueue(req);
    }

    /** Ends every sample of {@code req} with {@code error} (see {@link EventEmitter#fail}). */
    private void failRequest(RequestState req, Throwable error) {
        emitter.fail(req, error);
    }

    /** Called once per request after its last event: counts it out and wakes {@link #awaitIdle} at zero. */
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

    private void publishStats() {
        int free = kv.numFreeBlocks();
        int total = kv.totalBlocks();
        snapshot = new SchedulerStats(planner.numRunning(), planner.numWaiting(), (double) (total - free) / total,
                total, free, planner.preemptions(), planner.prefixHitTokens(), planner.prefixQueryTokens(),
                runner.steps());
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
        planner.collectRequests(left);
        IllegalStateException closedError = new IllegalStateException("scheduler closed");
        for (RequestState r : left) emitter.fail(r, closedError);
        planner.clear();
        publishStats();
        logger.info("scheduler stopped after {} steps", runner.steps());
    }
}
