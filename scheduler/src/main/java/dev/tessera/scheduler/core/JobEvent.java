package dev.tessera.scheduler.core;

import java.util.List;
import java.util.Objects;

/**
 * Everything a job streams to its client, for every kind: token deltas (text), previews and images (diffusion),
 * detections (detection), one {@link Finished} per sample at the end, or one {@link Error}. A job's Flux emits
 * these and then completes; it never errors.
 */
public sealed interface JobEvent {

    /**
     * New output of one text sample: the token ids produced this step and the text they completed (may be empty
     * while a multi-byte character or a possible stop string is pending). Never dropped.
     */
    record TokenDelta(int index, String text, int[] tokenIds, List<TokenLogprob> logprobs) implements JobEvent {
    }

    /** A low-resolution preview of an image being denoised. May be coalesced (the newest wins). */
    record Preview(int index, int step, int totalSteps, EncodedImage image) implements JobEvent {
    }

    /** A finished image, with the seed that reproduces it. */
    record Image(int index, EncodedImage image, long seed) implements JobEvent {
    }

    /**
     * The answer to one frame of a detection stream.
     *
     * @param frameId       the client's frame number
     * @param detections    best first
     * @param skippedFrames frames of this stream dropped unanswered since the previous answer (the newest frame
     *                      wins when a client sends faster than it is served)
     * @param queueMs       from the frame's arrival to the start of the step that ran it
     * @param e2eMs         from the frame's arrival to this answer
     */
    record Detections(long frameId, List<Detection> detections, int skippedFrames, double queueMs, double e2eMs)
            implements JobEvent {
    }

    /** The job, or one sample of it, ended. */
    record Finished(int index, FinishReason reason, Usage usage, Timings timings) implements JobEvent {
    }

    /** The job failed; nothing follows. */
    record Error(JobFailure failure) implements JobEvent {
        public Error {
            Objects.requireNonNull(failure, "failure");
        }
    }

    /** Log-probability of a sampled token and the top alternatives at that position. */
    record TokenLogprob(int tokenId, float logprob, int[] topIds, float[] topLogprobs) {
    }

    /** An encoded image: {@code mediaType} is {@code image/png} or {@code image/jpeg}. */
    record EncodedImage(byte[] data, String mediaType, int width, int height) {
    }

    /** One detected object, in pixels of the original frame. */
    record Detection(int labelId, String label, float score, float xMin, float yMin, float xMax, float yMax) {
    }

    /** Why a job (or sample) ended. */
    enum FinishReason { STOP, LENGTH, CANCELLED, ERROR }

    /** Token counts. {@code cachedTokens}: prompt tokens served from the prefix cache. */
    record Usage(int promptTokens, int completionTokens, int cachedTokens) {
    }

    /**
     * Timings in milliseconds: queue time (arrival to first scheduled), time to first output, end to end, and the
     * gap before each output token after the first (inter-token latencies).
     */
    record Timings(double queueMs, double ttftMs, double e2eMs, double[] interTokenMs) {
    }
}
