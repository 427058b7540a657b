package dev.tessera.gateway.grpc;

import dev.tessera.api.v1.FinishReason;
import dev.tessera.api.v1.Finished;
import dev.tessera.api.v1.Timings;
import dev.tessera.api.v1.TokenDelta;
import dev.tessera.api.v1.TokenLogprob;
import dev.tessera.api.v1.TopLogprob;
import dev.tessera.api.v1.Usage;
import dev.tessera.scheduler.GenerationEvent;

/** Maps scheduler events to their protobuf messages. Stateless. */
public final class EventMapper {
    private EventMapper() {
    }

    public static TokenDelta delta(GenerationEvent.TokenDelta d) {
        TokenDelta.Builder b = TokenDelta.newBuilder().setIndex(d.index()).setText(d.text());
        for (int id : d.tokenIds()) {
            b.addTokenIds(id);
        }
        if (d.logprobs() != null) {
            for (GenerationEvent.TokenLogprob lp : d.logprobs()) {
                TokenLogprob.Builder l = TokenLogprob.newBuilder().setTokenId(lp.tokenId()).setLogprob(lp.logprob());
                for (int i = 0; i < lp.topIds().length; i++) {
                    l.addTop(TopLogprob.newBuilder().setTokenId(lp.topIds()[i]).setLogprob(lp.topLogprobs()[i]));
                }
                b.addLogprobs(l);
            }
        }
        return b.build();
    }

    public static Finished finished(GenerationEvent.Finished f) {
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

    /** The Finished message the gateway sends itself when a client cancels a job. */
    public static Finished cancelled() {
        return Finished.newBuilder().setReason(FinishReason.FINISH_REASON_CANCELLED).build();
    }

    static Timings timings(GenerationEvent.Timings t) {
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

    static FinishReason reason(GenerationEvent.FinishReason r) {
        return switch (r) {
            case STOP -> FinishReason.FINISH_REASON_STOP;
            case LENGTH -> FinishReason.FINISH_REASON_LENGTH;
            case CANCELLED -> FinishReason.FINISH_REASON_CANCELLED;
            case ERROR -> FinishReason.FINISH_REASON_ERROR;
        };
    }
}
