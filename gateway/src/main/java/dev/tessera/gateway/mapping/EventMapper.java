package dev.tessera.gateway.mapping;

import dev.tessera.api.v1.Box;
import dev.tessera.api.v1.Detection;
import dev.tessera.api.v1.Detections;
import dev.tessera.api.v1.FinishReason;
import dev.tessera.api.v1.Finished;
import dev.tessera.api.v1.JobError;
import dev.tessera.api.v1.Timings;
import dev.tessera.api.v1.TokenDelta;
import dev.tessera.api.v1.TokenLogprob;
import dev.tessera.api.v1.TopLogprob;
import dev.tessera.api.v1.Usage;
import dev.tessera.gateway.session.CallError;
import dev.tessera.scheduler.core.JobEvent;

/** Maps the serving core's events to their protobuf messages. Stateless. */
public final class EventMapper {
    private EventMapper() {
    }

    public static TokenDelta delta(JobEvent.TokenDelta d) {
        TokenDelta.Builder b = TokenDelta.newBuilder().setIndex(d.index()).setText(d.text());
        for (int id : d.tokenIds()) {
            b.addTokenIds(id);
        }
        for (JobEvent.TokenLogprob lp : d.logprobs()) {
            TokenLogprob.Builder l = TokenLogprob.newBuilder().setTokenId(lp.tokenId()).setLogprob(lp.logprob());
            for (int i = 0; i < lp.topIds().length; i++) {
                l.addTop(TopLogprob.newBuilder().setTokenId(lp.topIds()[i]).setLogprob(lp.topLogprobs()[i]));
            }
            b.addLogprobs(l);
        }
        return b.build();
    }

    public static Finished finished(JobEvent.Finished f) {
        Finished.Builder b = Finished.newBuilder().setIndex(f.index()).setReason(reason(f.reason()));
        if (f.usage() != null) {
            b.setUsage(Usage.newBuilder().setPromptTokens(f.usage().promptTokens())
                    .setCompletionTokens(f.usage().completionTokens()).setCachedTokens(f.usage().cachedTokens()));
        }
        if (f.timings() != null) {
            b.setTimings(timings(f.timings()));
        }
        return b.build();
    }

    public static Detections detections(JobEvent.Detections d) {
        Detections.Builder b = Detections.newBuilder().setFrameId(d.frameId()).setSkippedFrames(d.skippedFrames())
                .setTimings(Timings.newBuilder().setQueueMs(d.queueMs()).setE2EMs(d.e2eMs()));
        for (JobEvent.Detection det : d.detections()) {
            b.addDetections(Detection.newBuilder().setLabel(det.label()).setLabelId(det.labelId())
                    .setScore(det.score()).setBox(Box.newBuilder().setXMin(det.xMin()).setYMin(det.yMin())
                            .setXMax(det.xMax()).setYMax(det.yMax())));
        }
        return b.build();
    }

    public static JobError error(CallError e) {
        return JobError.newBuilder().setCode(e.status().code).setMessage(e.message()).setField(e.field()).build();
    }

    /**
     * The Finished message the gateway sends itself when a client cancels a job: what was sent so far (output tokens
     * of every sample, or frames answered) and the time since the job started.
     */
    public static Finished cancelled(int outputTokens, int framesAnswered, double elapsedMs) {
        return Finished.newBuilder().setReason(FinishReason.FINISH_REASON_CANCELLED)
                .setUsage(Usage.newBuilder().setCompletionTokens(outputTokens + framesAnswered))
                .setTimings(Timings.newBuilder().setE2EMs(elapsedMs)).build();
    }

    static Timings timings(JobEvent.Timings t) {
        double sum = 0;
        double max = 0;
        double[] itl = t.interTokenMs() == null ? new double[0] : t.interTokenMs();
        for (double v : itl) {
            sum += v;
            max = Math.max(max, v);
        }
        return Timings.newBuilder().setQueueMs(t.queueMs()).setTtftMs(t.ttftMs()).setE2EMs(t.e2eMs())
                .setMeanInterTokenMs(itl.length == 0 ? 0 : sum / itl.length).setMaxInterTokenMs(max).build();
    }

    static FinishReason reason(JobEvent.FinishReason r) {
        return switch (r) {
            case STOP -> FinishReason.FINISH_REASON_STOP;
            case LENGTH -> FinishReason.FINISH_REASON_LENGTH;
            case CANCELLED -> FinishReason.FINISH_REASON_CANCELLED;
            case ERROR -> FinishReason.FINISH_REASON_ERROR;
        };
    }
}
