package dev.tessera.scheduler.text;

import dev.tessera.kvcache.PagedKvCache;
import dev.tessera.scheduler.core.JobFailure;
import dev.tessera.scheduler.core.Listeners;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides what each step computes: owns the waiting queue and the running batch, and fills the {@link StepPlan}
 * within the token budget and the running limit, as vLLM's {@code schedule()} does.
 *
 * <p>A plan takes (1) one token for every running sequence that decodes, then (2) prefill chunks (and
 * recomputations) of running sequences, then (3) new admissions from the waiting queue (priority, preempted first,
 * then arrival), each admission first attaching the KV of its longest cached prefix. A sequence whose subscriber is
 * {@link TextConfig#maxPendingEvents()} events behind is skipped (it keeps its blocks). When a sequence needs a
 * block and none is left, the least important, newest running sequence is preempted: its blocks are freed and it
 * goes back to the waiting queue with its prompt and output so far as the tokens to recompute.
 *
 * <p>Also creates the sequences (a request's first one, and the samples an {@code n > 1} group forks into) and takes
 * them out again, so the running batch and the waiting queue change only here. Owned by the scheduler loop; the
 * counters are published for other threads.
 */
final class Planner {
    private static final Logger logger = LoggerFactory.getLogger(Planner.class);

    private final PagedKvCache kv;
    private final TextConfig config;
    private final String model;
    private final Listeners listeners;
    private final AtomicInteger queued;
    private final AtomicInteger queuedPeak;
    private final BiConsumer<TextJob, JobFailure> reject;

    private final PriorityQueue<Sequence> waiting = new PriorityQueue<>(Comparator
            .comparingInt((Sequence s) -> s.request.priority)
            .thenComparing(s -> !s.resumed)
            .thenComparingLong(s -> s.request.arrivalOrder)
            .thenComparingInt(s -> s.index));
    private final List<Sequence> running = new ArrayList<>();
    private Sequence[] runScratch = new Sequence[16];
    private final StepPlan plan;
    private int runningSeats;
    private long nextSeqId;

    /** {@code waiting.size()}, published for other threads at every change. */
    private volatile int waitingNow;
    /** Of {@link #waitingNow}, the preempted sequences (they ran before; the waiting bound may not shed them). */
    private volatile int waitingPreemptedNow;
    private volatile long preemptions;
    private volatile long prefixHitTokens;
    private volatile long prefixQueryTokens;

    /**
     * @param kv        block bookkeeping; used by the loop thread only
     * @param config    token budget, running limit and policy
     * @param maxSeqs   most sequences in one step
     * @param model     the served model's name, for listeners
     * @param listeners told about preemptions
     * @param queued    places held in the waiting queue: requests submitted but not yet admitted (decremented on a
     *                  request's first admission) and preempted sequences (counted here until they run again)
     * @param queuedPeak the most places {@code queued} ever held; raised here when a preempted sequence takes one
     * @param reject    ends a request that can never fit the KV cache (with an error for its subscriber)
     */
    Planner(PagedKvCache kv, TextConfig config, int maxSeqs, String model, Listeners listeners,
            AtomicInteger queued, AtomicInteger queuedPeak, BiConsumer<TextJob, JobFailure> reject) {
        this.kv = Objects.requireNonNull(kv, "kv");
        this.config = Objects.requireNonNull(config, "config");
        this.model = Objects.requireNonNull(model, "model");
        this.listeners = Objects.requireNonNull(listeners, "listeners");
        this.queued = Objects.requireNonNull(queued, "queued");
        this.queuedPeak = Objects.requireNonNull(queuedPeak, "queuedPeak");
        this.reject = Objects.requireNonNull(reject, "reject");
        this.plan = new StepPlan(maxSeqs);
    }

    /** True when nothing runs and nothing waits. */
    boolean isIdle() {
        return running.isEmpty() && waiting.isEmpty();
    }

    /** Sequences in the running batch. */
    int numRunning() {
        return running.size();
    }

    /** Sequences queued or preempted, waiting for admission. Any thread: kept current at every change. */
    int numWaiting() {
        return waitingNow;
    }

    /** Of {@link #numWaiting}, the preempted sequences: over the waiting bound only when no new request is left to shed. */
    int numWaitingPreempted() {
        return waitingPreemptedNow;
    }

    private void addWaiting(Sequence s) {
        waiting.add(s);
        if (s.resumed) waitingPreemptedNow++;
        waitingNow = waiting.size();
    }

    private void pollWaiting() {
        Sequence s = waiting.poll();
        if (s != null && s.resumed) waitingPreemptedNow--;
        waitingNow = waiting.size();
    }

    private boolean removeWaiting(Sequence s) {
        boolean removed = waiting.remove(s);
        if (removed && s.resumed) waitingPreemptedNow--;
        waitingNow = waiting.size();
        return removed;
    }

    /** Total preemptions so far. */
    long preemptions() {
        return preemptions;
    }

    /** Prompt tokens served from the prefix cache so far. */
    long prefixHitTokens() {
        return prefixHitTokens;
    }

    /** Prompt tokens looked up in the prefix cache so far. */
    long prefixQueryTokens() {
        return prefixQueryTokens;
    }

    /**
     * Queues a new request as one sequence over its prompt; for {@code n > 1} it is a group that stands for all n
     * samples until its prompt is computed (see {@link #fork}).
     */
    void enqueue(TextJob req) {
        int n = req.params.n();
        int capacity = req.promptTokens.length + req.params.maxTokens();
        int[] tokens = Arrays.copyOf(req.promptTokens, capacity);
        // A resumed stream: its delivered outputs follow the prompt, computed with it, counted as outputs.
        System.arraycopy(req.resumed, 0, tokens, req.promptTokens.length, req.resumed.length);
        Sequence seq = new Sequence(nextSeqId++, req, 0, tokens, req.promptTokens.length + req.resumed.length,
                req.promptTokens.length);
        seq.outputs = req.resumed.length;
        seq.group = n > 1;
        req.samples.add(seq);
        addWaiting(seq);
    }

    /**
     * Splits a group whose prompt is computed into its n samples: the others share its blocks copy-on-write, start
     * running at once and have their own text state.
     */
    void fork(Sequence parent) {
        TextJob req = parent.request;
        parent.group = false;
        for (int k = 1; k < req.params.n(); k++) {
            Sequence child = new Sequence(nextSeqId++, req, k, parent.tokens.clone(), parent.len, parent.promptLen);
            kv.fork(parent.id, child.id);
            child.numComputed = parent.numComputed;
            child.state = Sequence.State.RUNNING;
            running.add(child);
            req.samples.add(child);
        }
    }

    /** Takes {@code s} out of the running batch (and the plan) or the waiting queue and frees its blocks. */
    void remove(Sequence s) {
        if (s.state == Sequence.State.RUNNING) {
            running.remove(s);
            runningSeats -= s.seats();
            plan.remove(s);
        } else if (s.state == Sequence.State.WAITING) {
            if (removeWaiting(s) && s.resumed) queued.decrementAndGet();
        }
        kv.free(s.id);
        s.state = Sequence.State.FINISHED;
    }

    /** Adds the request of every running, then every waiting sequence to {@code into} (for shutdown). */
    void collectRequests(List<TextJob> into) {
        for (Sequence s : running) into.add(s.request);
        for (Sequence s : waiting) into.add(s.request);
    }

    /** Forgets every sequence (after shutdown has ended their requests). */
    void clear() {
        running.clear();
        waiting.clear();
        waitingNow = 0;
        waitingPreemptedNow = 0;
    }

    /**
     * Plans the next step: decodes, then prefill chunks, then admissions, within the token budget and the running
     * limit; preempts when blocks run out. The plan is empty when nothing can run now.
     */
    StepPlan plan() {
        plan.reset(config.maxBatchTokens());
        if (config.policy() == BatchingPolicy.STATIC && running.isEmpty()) admitStaticBatch();
        int n = running.size();
        if (runScratch.length < n) runScratch = new Sequence[Math.max(n, runScratch.length * 2)];
        running.toArray(runScratch);
        // 1. decodes: one token for each running sequence whose next token awaits only its last one
        for (int i = 0; i < n && plan.budget() > 0 && !plan.isFull(); i++) {
            Sequence s = runScratch[i];
            if (s.state != Sequence.State.RUNNING || s.remaining() != 1 || paused(s)) continue;
            if (reserve(s, 1)) plan.add(s, 1);
        }
        // 2. chunked prefills (and recomputations) of running sequences
        for (int i = 0; i < n && plan.budget() > 0 && !plan.isFull(); i++) {
            Sequence s = runScratch[i];
            if (s.state != Sequence.State.RUNNING || s.remaining() <= 1 || plan.contains(s) || paused(s)) continue;
            int chunk = Math.min(plan.budget(), s.remaining());
            if (reserve(s, chunk)) plan.add(s, chunk);
        }
        Arrays.fill(runScratch, 0, n, null);
        // 3. admissions
        if (config.policy() != BatchingPolicy.STATIC) admit();
        return plan;
    }

    private boolean paused(Sequence s) {
        return s.request.paused(config.maxPendingEvents());
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
        plan.remove(s);
        kv.free(s.id);
        s.numComputed = 0;
        s.state = Sequence.State.WAITING;
        s.resumed = true;
        // Make room first, so that the queue is never seen over its bound.
        if (queued.incrementAndGet() > config.maxWaiting()) shedNewest();
        addWaiting(s);
        queuedPeak.accumulateAndGet(queued.get(), Math::max);
        preemptions++;
        logger.debug("preempted {}", s);
        listeners.onPreemption(model);
    }

    /**
     * A preempted sequence went back to a full waiting queue: the newest, least important request that never ran
     * gives up its place (RESOURCE_EXHAUSTED), so that the queue's bound holds. When every waiting sequence has run
     * before, none is refused and the queue is over its bound until they run again.
     */
    private void shedNewest() {
        Sequence victim = null;
        for (Sequence s : waiting) {
            if (s.request.admitted) continue;
            if (victim == null || s.request.priority > victim.request.priority
                    || (s.request.priority == victim.request.priority
                    && s.request.arrivalOrder > victim.request.arrivalOrder)) {
                victim = s;
            }
        }
        if (victim != null) {
            reject.accept(victim.request, JobFailure.of(JobFailure.Code.RESOURCE_EXHAUSTED, "the waiting queue of"
                    + " model " + JobFailure.quote(model) + " is full (" + config.maxWaiting() + " requests): a"
                    + " preempted request took this one's place; retry shortly"));
        }
    }

    private void admit() {
        int limit = config.runningLimit();
        while (!waiting.isEmpty() && plan.budget() > 0 && !plan.isFull()) {
            Sequence s = waiting.peek();
            if (!running.isEmpty() && runningSeats + s.seats() > limit) break;
            pollWaiting();
            attachPrefix(s);
            int chunk = Math.min(plan.budget(), s.remaining());
            if (!kv.allocateSlots(s.id, s.numComputed, chunk)) {
                kv.free(s.id);
                s.numComputed = 0;
                if (running.isEmpty()) {
                    // Everything is free or evictable, yet it does not fit: it never will.
                    if (s.resumed) queued.decrementAndGet(); // out of the queue already
                    reject.accept(s.request, JobFailure.of(JobFailure.Code.RESOURCE_EXHAUSTED, "the KV cache is too"
                            + " small for this request: " + kv.totalBlocks() + " blocks of " + kv.blockSize()
                            + " tokens"));
                    continue;
                }
                addWaiting(s);
                break;
            }
            markRunning(s);
            plan.add(s, chunk);
        }
    }

    /** STATIC: when nothing runs, a whole batch joins at once; its prefills are then scheduled like any other. */
    private void admitStaticBatch() {
        while (!waiting.isEmpty()) {
            Sequence s = waiting.peek();
            if (!running.isEmpty() && runningSeats + s.seats() > config.staticBatchSize()) break;
            pollWaiting();
            attachPrefix(s);
            markRunning(s);
        }
    }

    private void attachPrefix(Sequence s) {
        int cached = kv.attachCachedPrefix(s.id, s.cacheKeys(), s.len); // image digests at placeholders
        s.numComputed = cached;
        prefixQueryTokens += s.len;
        prefixHitTokens += cached;
        if (!s.request.admitted) s.request.cachedTokens = cached;
    }

    private void markRunning(Sequence s) {
        s.state = Sequence.State.RUNNING;
        running.add(s);
        runningSeats += s.seats();
        TextJob req = s.request;
        if (!req.admitted) {
            req.admitted = true;
            req.firstScheduledNanos = System.nanoTime();
            queued.decrementAndGet();
        } else if (s.resumed) {
            queued.decrementAndGet(); // a preempted sequence runs again
        }
    }
}
