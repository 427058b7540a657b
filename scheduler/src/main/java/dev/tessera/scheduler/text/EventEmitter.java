package dev.tessera.scheduler.text;

import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.engine.text.sampling.Logprobs;
import dev.tessera.engine.text.sampling.SamplingParams;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobEvent.FinishReason;
import dev.tessera.scheduler.core.JobEvent.Finished;
import dev.tessera.scheduler.core.JobEvent.Timings;
import dev.tessera.scheduler.core.JobEvent.Usage;
import dev.tessera.scheduler.core.JobFailure;
import dev.tessera.scheduler.core.Listeners;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The loop side of a text job's output: sends each sampled token as a {@link SampleEvent.Sampled} (token ids only;
 * text and stop strings are the output processor's, off the loop thread), decides the ends it can see (an
 * end-of-sequence or stop token id, max tokens, the model's length), and ends samples and requests with their
 * {@link Usage} and {@link Timings}, an error or a cancellation. Listeners hear of every sample that ends.
 * Owned by the loop thread.
 */
final class EventEmitter {
    private static final Logger logger = LoggerFactory.getLogger(EventEmitter.class);

    private final String model;
    private final int[] eosTokenIds;
    private final int maxModelLen;
    private final Planner planner;
    private final Listeners listeners;
    private final AtomicInteger queued;

    private volatile long tokensNeeded;

    /**
     * @param info      the model: end-of-sequence tokens and the longest sequence
     * @param model     the served name, for listeners
     * @param planner   takes ended sequences out of the running batch or the waiting queue
     * @param listeners told about every sample that ends
     * @param queued    requests submitted but not yet admitted; decremented when one ends before admission
     */
    EventEmitter(ModelInfo info, String model, Planner planner, Listeners listeners, AtomicInteger queued) {
        this.model = Objects.requireNonNull(model, "model");
        this.eosTokenIds = Objects.requireNonNull(info, "info").eosTokenIds();
        this.maxModelLen = info.maxModelLen();
        this.planner = Objects.requireNonNull(planner, "planner");
        this.listeners = Objects.requireNonNull(listeners, "listeners");
        this.queued = Objects.requireNonNull(queued, "queued");
    }

    /**
     * Tokens that finished samples needed computed: uncached prompt tokens once per request, plus every output token
     * but the last.
     */
    long tokensNeeded() {
        return tokensNeeded;
    }

    /**
     * Sends the token just appended to {@code s} and, when it ends the sample, ends it.
     *
     * @param token    the sampled token, already appended to {@code s}
     * @param logprobs its log-probabilities, or null when not asked for
     * @param now      when it was sampled ({@link System#nanoTime()})
     */
    void token(Sequence s, int token, @Nullable Logprobs logprobs, long now) {
        TextJob req = s.request;
        SamplingParams p = req.params;
        JobEvent.TokenLogprob lp = logprobs == null ? null : new JobEvent.TokenLogprob(logprobs.tokenId(),
                logprobs.logprob(), logprobs.topIds(), logprobs.topLogprobs());
        FinishReason reason = null;
        if ((!p.ignoreEos() && contains(eosTokenIds, token)) || contains(p.stopTokenIds(), token)) {
            reason = FinishReason.STOP;
        } else if (s.outputs >= p.maxTokens() || s.len >= maxModelLen) {
            reason = FinishReason.LENGTH;
        }
        req.emit(new SampleEvent.Sampled(s.index, token, lp, reason));
        if (reason != null) finish(s, reason, now);
    }

    /**
     * The output processor matched a stop string in sample {@code index} of {@code req} after its first
     * {@code keep} output tokens: end it there (STOP), unless it has ended already.
     */
    void stopAt(TextJob req, int index, int keep) {
        if (req.ended()) return;
        Sequence s = req.sample(index);
        if (s == null || s.state == Sequence.State.FINISHED) return;
        s.truncateOutputs(keep);
        finish(s, FinishReason.STOP, System.nanoTime());
    }

    private static boolean contains(int[] ids, int token) {
        for (int id : ids) {
            if (id == token) return true;
        }
        return false;
    }

    private void finish(Sequence s, FinishReason reason, long now) {
        TextJob req = s.request;
        planner.remove(s);
        Usage usage = usage(s);
        Timings timings = timings(s, now);
        tokensNeeded += (s.index == 0 ? s.promptLen + req.resumed.length - req.cachedTokens : 0)
                + Math.max(0, s.outputs - req.resumed.length - 1);
        req.emit(new SampleEvent.Ended(new Finished(s.index, reason, usage, timings)));
        listeners.onFinished(model, reason, usage, timings);
        if (++req.finishedSamples == req.params.n()) req.complete();
    }

    /** Ends every sample of {@code req} with {@code failure}: blocks freed, the failure to the subscriber. */
    void fail(TextJob req, JobFailure failure) {
        if (req.ended()) return;
        long now = System.nanoTime();
        for (Sequence s : req.samples) {
            if (s.state == Sequence.State.FINISHED) continue;
            planner.remove(s);
            listeners.onFinished(model, FinishReason.ERROR, usage(s), timings(s, now));
        }
        if (!req.admitted) queued.decrementAndGet();
        req.fail(failure);
    }

    /** Ends every sample of a request its subscriber cancelled: blocks freed, no further events. */
    void cancel(TextJob req) {
        if (req.ended()) return;
        for (Sequence s : req.samples) {
            if (s.state == Sequence.State.FINISHED) continue;
            planner.remove(s);
            listeners.onFinished(model, FinishReason.CANCELLED, usage(s), timings(s, System.nanoTime()));
        }
        if (!req.admitted) queued.decrementAndGet();
        logger.debug("{} cancelled", req);
        req.dropped();
    }

    private static Usage usage(Sequence s) {
        return new Usage(s.promptLen, s.outputs, s.request.cachedTokens);
    }

    private static Timings timings(Sequence s, long now) {
        TextJob req = s.request;
        double queueMs = (req.admitted ? req.firstScheduledNanos - req.arrivalNanos() : now - req.arrivalNanos())
                / 1e6;
        double ttftMs = s.firstTokenNanos != 0 ? (s.firstTokenNanos - req.arrivalNanos()) / 1e6 : 0;
        return new Timings(queueMs, ttftMs, (now - req.arrivalNanos()) / 1e6,
                Arrays.copyOf(s.interTokenMs, s.numInterToken));
    }
}
