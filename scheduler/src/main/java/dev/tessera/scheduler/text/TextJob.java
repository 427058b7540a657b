package dev.tessera.scheduler.text;

import dev.tessera.engine.text.sampling.SamplingParams;
import dev.tessera.scheduler.core.Job;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.FluxSink;

/**
 * One admitted text request on the loop: its prompt, its validated parameters and its samples. It streams
 * {@link SampleEvent}s (token ids, not text) to its output processor. Fields are touched by the loop thread only.
 */
final class TextJob extends Job<SampleEvent> {
    final String requestId;
    final int[] promptTokens;
    final SamplingParams params;
    final int priority;
    /** Arrival order, for FIFO among equal priorities and for "newest" when preempting. */
    final long arrivalOrder;
    final long seed;
    /** Images, M-RoPE positions and prefix-cache keys of a prompt with images; null for text. */
    final @Nullable MultimodalPrompt mm;
    /** Output tokens a broken stream already delivered (empty for a new stream). */
    final int[] resumed;

    final List<Sequence> samples = new ArrayList<>(1);
    int finishedSamples;
    boolean admitted;
    int cachedTokens;
    long firstScheduledNanos;

    TextJob(PreparedText prepared, long arrivalOrder, FluxSink<SampleEvent> sink) {
        super(sink, prepared.arrivalNanos());
        this.requestId = prepared.requestId();
        this.promptTokens = prepared.promptTokens();
        this.params = prepared.params();
        this.priority = prepared.priority();
        this.arrivalOrder = arrivalOrder;
        this.seed = prepared.seed();
        this.mm = prepared.multimodal();
        this.resumed = prepared.resumed();
    }

    /** The sample with index {@code index}, or null if it does not exist (yet, or any more). */
    Sequence sample(int index) {
        for (Sequence s : samples) {
            if (s.index == index) return s;
        }
        return null;
    }

    @Override
    public String toString() {
        return "request " + requestId;
    }
}
