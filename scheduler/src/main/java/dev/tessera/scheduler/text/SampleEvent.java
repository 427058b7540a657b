package dev.tessera.scheduler.text;

import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobEvent.FinishReason;
import org.jspecify.annotations.Nullable;

/**
 * What the loop sends a text job's output processor: sampled token ids (text is made off the loop thread) and the
 * end of each sample.
 */
sealed interface SampleEvent {
    /**
     * One token of sample {@code index}.
     *
     * @param ending why this token ends the sample (an end-of-sequence or stop token id: STOP; max tokens or the
     *               model's length: LENGTH), or null when more follow
     */
    record Sampled(int index, int tokenId, JobEvent.@Nullable TokenLogprob logprob, @Nullable FinishReason ending)
            implements SampleEvent {
    }

    /** Sample {@code finished.index()} ended; its Finished event as the loop measured it. */
    record Ended(JobEvent.Finished finished) implements SampleEvent {
    }
}
