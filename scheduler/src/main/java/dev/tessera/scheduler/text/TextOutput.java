package dev.tessera.scheduler.text;

import dev.tessera.engine.text.tokenizer.Tokenizer;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobEvent.FinishReason;
import dev.tessera.scheduler.core.JobEvent.Finished;
import dev.tessera.scheduler.core.JobEvent.Timings;
import dev.tessera.scheduler.core.JobEvent.Usage;
import java.util.Arrays;
import java.util.List;
import java.util.function.BiConsumer;
import reactor.core.publisher.SynchronousSink;

/**
 * The output processor of one text job, as in vLLM V1: turns the loop's {@link SampleEvent}s into
 * {@link JobEvent.TokenDelta}s off the loop thread, by detokenizing each sample incrementally and matching its
 * stop strings ({@link OutputText}).
 *
 * <p>When a stop string matches, the delta carries the text before it, the loop is told to end the sample there
 * (it may have sampled a token or two further meanwhile: those are dropped here and not counted), and the
 * sample's {@link Finished} is reported with reason STOP, the tokens up to the match, and their timings. End of
 * sequence and stop token ids end a sample on the loop side; their token's text is not emitted, as before.
 *
 * <p>Runs serially for one job (Reactor's {@code handle} after {@code publishOn}); not thread-safe.
 */
final class TextOutput implements BiConsumer<SampleEvent, SynchronousSink<JobEvent>> {
    /** Tells the loop to end sample {@code index} after its first {@code keep} output tokens. */
    @FunctionalInterface
    interface StopHandle {
        void stopAt(int index, int keep);
    }

    private final Tokenizer tokenizer;
    private final PreparedText request;
    private final StopHandle stop;
    private final OutputText[] texts;
    private final int[] accepted;
    private final boolean[] stopMatched;

    TextOutput(Tokenizer tokenizer, PreparedText request, StopHandle stop) {
        this.tokenizer = tokenizer;
        this.request = request;
        this.stop = stop;
        int n = request.params().n();
        this.texts = new OutputText[n];
        this.accepted = new int[n];
        this.stopMatched = new boolean[n];
    }

    @Override
    public void accept(SampleEvent event, SynchronousSink<JobEvent> sink) {
        if (event instanceof SampleEvent.Sampled s) {
            sampled(s, sink);
        } else if (event instanceof SampleEvent.Ended e) {
            sink.next(ended(e.finished()));
        }
    }

    private void sampled(SampleEvent.Sampled s, SynchronousSink<JobEvent> sink) {
        int i = s.index();
        if (stopMatched[i]) return; // sampled after the stop string, before the loop heard of it
        OutputText text = text(i);
        accepted[i]++;
        String delta;
        if (s.ending() == FinishReason.STOP) {
            delta = text.flush();
        } else {
            delta = text.add(s.tokenId());
            if (text.stopped()) {
                stopMatched[i] = true;
                if (s.ending() == null) stop.stopAt(i, request.resumed().length + accepted[i]);
            } else if (s.ending() == FinishReason.LENGTH) {
                delta = delta + text.flush();
            }
        }
        // stopAt and usage count every output, the resumed ones included.
        sink.next(new JobEvent.TokenDelta(i, delta, new int[] {s.tokenId()},
                s.logprob() == null ? List.of() : List.of(s.logprob())));
    }

    private Finished ended(Finished f) {
        int i = f.index();
        if (!stopMatched[i]) return f;
        Usage u = f.usage();
        Timings t = f.timings();
        int keep = accepted[i];
        double[] gaps = t.interTokenMs();
        return new Finished(i, FinishReason.STOP, new Usage(u.promptTokens(), request.resumed().length + keep,
                u.cachedTokens()), new Timings(t.queueMs(), t.ttftMs(), t.e2eMs(),
                        Arrays.copyOf(gaps, Math.min(gaps.length, Math.max(0, keep - 1)))));
    }

    private OutputText text(int index) {
        OutputText t = texts[index];
        if (t == null) {
            int[] prompt = request.promptTokens();
            t = new OutputText(tokenizer, prompt, prompt.length, request.params().stop());
            t.replay(request.resumed());
            texts[index] = t;
        }
        return t;
    }
}
