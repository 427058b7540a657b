package dev.tessera.scheduler;

import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.engine.text.sampling.Logprobs;
import dev.tessera.engine.text.sampling.SamplingParams;
import dev.tessera.scheduler.GenerationEvent.FinishReason;
import dev.tessera.scheduler.GenerationEvent.Finished;
import dev.tessera.scheduler.GenerationEvent.Timings;
import dev.tessera.scheduler.GenerationEvent.TokenDelta;
import dev.tessera.scheduler.GenerationEvent.TokenLogprob;
import dev.tessera.scheduler.GenerationEvent.Usage;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The output side of the loop: turns each sampled token into a {@link TokenDelta} (text released by the sample's
 * {@link OutputText}, stop tokens, stop strings and length limits decide the end), and ends samples and requests
 * with a {@link Finished} event, an error or a cancellation, with their {@link Usage} and {@link Timings}. Listeners
 * hear of every sample that ends. Events go to the request's sink on the loop thread; the loop owns this object.
 */
final class EventEmitter {
    private static final Logger logger = LoggerFactory.getLogger(EventEmitter.class);

    private final int[] eosTokenIds;
    private final int maxModelLen;
    private final Planner planner;
    private final Listeners listeners;
    private final AtomicInteger queued;
    private final Consumer<RequestState> ended;

    private volatile long tokensNeeded;

    /**
     * @param info      end-of-sequence tokens and the longest sequence
     * @param planner   takes ended sequences out of the running batch or the waiting queue
     * @param listeners told about every sample that ends
     * @param queued    requests submitted but not yet admitted; decremented when one ends before admission
     * @param ended     called once per request when its last event has gone out
     */
    EventEmitter(ModelInfo info, Planner planner, Listeners listeners, AtomicInteger queued,
                 Consumer<RequestState> ended) {
        this.eosTokenIds = Objects.requireNonNull(info, "info").eosTokenIds();
        this.maxModelLen = info.maxModelLen();
        this.planner = Objects.requireNonNull(planner, "planner");
        this.listeners = Objects.requireNonNull(listeners, "listeners");
        this.queued = Objects.requireNonNull(queued, "queued");
        this.ended = Objects.requireNonNull(ended, "ended");
    }

    /**
     * Tokens that finished samples needed computed: uncached prompt tokens once per request, plus every output token
     * but the last.
     */
    long tokensNeeded() {
        return tokensNeeded;
    }

    /**
     * Emits the token just appended to {@code s} and, when it ends the sample, its {@link Finished} event.
     *
     * @param token    the sampled token, already appended to {@code s}
     * @param logprobs its log-probabilities, or null when not asked for
     * @param now      when it was sampled ({@link System#nanoTime()})
     */
    void token(Sequence s, int token, Logprobs logprobs, long now) {
        RequestState req = s.request;
        SamplingParams p = req.params;
        List<TokenLogprob> lps = logprobs == null ? List.of() : List.of(new TokenLogprob(logprobs.tokenId(),
                logprobs.logprob(), logprobs.topIds(), logprobs.topLogprobs()));
        FinishReason reason = null;
        String text;
        if ((!p.ignoreEos() && contains(eosTokenIds, token)) || contains(p.stopTokenIds(), token)) {
            text = s.text.flush();
            reason = FinishReason.STOP;
        } else {
            text = s.text.add(token);
            if (s.text.stopped()) {
                reason = FinishReason.STOP;
            } else if (s.outputs >= p.maxTokens() || s.len >= maxModelLen) {
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
        planner.remove(s);
        Usage usage = usage(s);
        Timings timings = timings(s, now);
        tokensNeeded += (s.index == 0 ? s.promptLen - req.cachedTokens : 0) + Math.max(0, s.outputs - 1);
        req.emit(new Finished(s.index, reason, usage, timings));
        listeners.onFinished(reason, usage, timings);
        if (++req.finishedSamples == req.params.n()) {
            req.sink.complete();
            ended.accept(req);
        }
    }

    /** Ends every sample of {@code req} with {@code error}: blocks freed, onError to the subscriber. */
    void fail(RequestState req, Throwable error) {
        if (req.done) return;
        long now = System.nanoTime();
        for (Sequence s : req.samples) {
            if (s.state == Sequence.State.FINISHED) continue;
            planner.remove(s);
            listeners.onFinished(FinishReason.ERROR, usage(s), timings(s, now));
        }
        if (!req.admitted) queued.decrementAndGet();
        req.sink.error(error);
        ended.accept(req);
    }

    /** Ends every sample of a request its subscriber cancelled: blocks freed, no further events. */
    void cancel(RequestState req) {
        if (req.done) return;
        for (Sequence s : req.samples) {
            if (s.state == Sequence.State.FINISHED) continue;
            planner.remove(s);
            listeners.onFinished(FinishReason.CANCELLED, usage(s), timings(s, System.nanoTime()));
        }
        if (!req.admitted) queued.decrementAndGet();
        logger.debug("{} cancelled", req);
        ended.accept(req);
    }

    private static Usage usage(Sequence s) {
        return new Usage(s.promptLen, s.outputs, s.request.cachedTokens);
    }

    private static Timings timings(Sequence s, long now) {
        RequestState req = s.request;
        double queueMs = req.admitted ? (req.firstScheduledNanos - req.arrivalNanos) / 1e6 : (now - req.arrivalNanos)
                / 1e6;
        double ttftMs = s.outputs > 0 ? (s.firstTokenNanos - req.arrivalNanos) / 1e6 : 0;
        return new Timings(queueMs, ttftMs, (now - req.arrivalNanos) / 1e6,
                Arrays.copyOf(s.interTokenMs, s.numInterToken));
    }
}
