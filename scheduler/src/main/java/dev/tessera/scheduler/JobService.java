package dev.tessera.scheduler;

import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.ModelCard;
import dev.tessera.scheduler.core.ModelStats;
import dev.tessera.scheduler.core.ServingListener;
import dev.tessera.scheduler.core.JobFailure;
import dev.tessera.scheduler.detect.DetectFrame;
import dev.tessera.scheduler.diffuse.DiffuseRequest;
import dev.tessera.scheduler.text.GenerateRequest;
import java.time.Duration;
import java.util.List;
import reactor.core.publisher.Flux;

/**
 * What the network edge sees of the server: the served models, and one cold {@link Flux} of {@link JobEvent}s per
 * job, of any kind. Requests are domain records, not yet validated: validation and preparation happen behind this
 * interface, off the caller's thread, and a bad request gets an {@link JobEvent.Error} naming the field. A job's
 * Flux never errors; cancelling it drops the job and frees what it holds before the next step. Every Flux honours
 * demand: a slow subscriber pauses its job, and nothing it is owed is dropped (a detection stream skips frames
 * instead, newest first).
 */
public interface JobService {
    /** The served models, each marked default of its kind or not. */
    List<ModelCard> models();

    /** A text generation job: token deltas, then one Finished per sample. */
    Flux<JobEvent> generate(GenerateRequest request);

    /**
     * A detection stream: frames in, one {@link JobEvent.Detections} per answered frame out (frames sent faster
     * than they are served are skipped, the newest wins, and each answer says how many were skipped), then one
     * Finished after the last frame once {@code frames} completes. A bad frame ends the stream with an Error.
     * The model is the first frame's.
     */
    Flux<JobEvent> detect(Flux<DetectFrame> frames);

    /**
     * A text-to-image job: previews every {@code preview_every} steps (coalesced for a slow client), then per image
     * one {@link JobEvent.Image} (PNG, with its seed) and one Finished. A service without diffusion models answers
     * UNIMPLEMENTED.
     */
    default Flux<JobEvent> diffuse(DiffuseRequest request) {
        return Flux.just(new JobEvent.Error(JobFailure.of(JobFailure.Code.UNIMPLEMENTED,
                "this server serves no diffusion model")));
    }

    /**
     * The text of token {@code tokenId} alone in text model {@code model} ("" for the default), as OpenAI-style
     * logprobs name tokens. A service without tokenizers answers vLLM's {@code token_id:N} form.
     *
     * @throws dev.tessera.scheduler.core.JobException NOT_FOUND for an unknown model
     * @throws IllegalArgumentException for an id outside the vocabulary
     */
    default String tokenText(String model, int tokenId) {
        return "token_id:" + tokenId;
    }

    /** A snapshot of model {@code name}'s lane. */
    ModelStats stats(String name);

    /** Listeners are called on the loop thread and must not block. */
    void addListener(ServingListener listener);

    /** Stops admitting new jobs; running and waiting jobs go on. */
    void drain();

    /** Waits until no job is in flight. */
    boolean awaitIdle(Duration timeout) throws InterruptedException;
}
