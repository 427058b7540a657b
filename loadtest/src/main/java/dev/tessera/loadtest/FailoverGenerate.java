package dev.tessera.loadtest;

import dev.tessera.api.v1.Finished;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.TokenDelta;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * One {@code Generate} stream over several replicas: when the stream breaks (the replica died, restarted or
 * drains: UNAVAILABLE), the request goes to the next replica with the tokens delivered so far in
 * {@code resume_token_ids}, and the server continues after them. For greedy and seeded requests the tokens and text
 * the caller sees are exactly those of an uninterrupted stream (the server's sampling depends only on seed and
 * position); an unseeded sampled stream continues, but not as the first replica would have.
 *
 * <p>Resumes one sample ({@code n = 1}); each break moves to the next address, cycling, at most
 * {@code maxResumes} times. Other statuses end the stream as they are.
 */
public final class FailoverGenerate {
    /** What the caller is told, in order, on the calling thread. */
    public interface Listener {
        void onDelta(TokenDelta delta);

        /** The stream broke on {@code from} after {@code delivered} tokens and continues on {@code to}. */
        default void onResume(int from, int to, int delivered, Status cause) {
        }
    }

    /** How a stream ended: the finish (null on an error), or the status that ended it. */
    public record Result(@Nullable Finished finished, @Nullable Status error, int resumes, List<Integer> tokenIds) {
    }

    private final List<? extends Channel> replicas;
    private final int maxResumes;
    private final long timeoutSeconds;

    /**
     * @param replicas       one channel per replica, in the order they are tried
     * @param maxResumes     breaks survived before giving up
     * @param timeoutSeconds each call's deadline
     */
    public FailoverGenerate(List<? extends Channel> replicas, int maxResumes, long timeoutSeconds) {
        if (replicas.isEmpty()) throw new IllegalArgumentException("no replica");
        this.replicas = List.copyOf(replicas);
        this.maxResumes = maxResumes;
        this.timeoutSeconds = timeoutSeconds;
    }

    /** Streams {@code request} (n = 1) from the first replica, resuming on the next ones when it breaks. */
    public Result run(GenerateRequest request, Listener listener) {
        Objects.requireNonNull(listener, "listener");
        if (request.hasSampling() && request.getSampling().hasN() && request.getSampling().getN() > 1) {
            throw new IllegalArgumentException("failover resumes one sample: n must be 1");
        }
        List<Integer> delivered = new ArrayList<>();
        int at = 0;
        int resumes = 0;
        while (true) {
            GenerateRequest attempt = request.toBuilder().clearResumeTokenIds().addAllResumeTokenIds(delivered)
                    .build();
            try {
                Iterator<GenerateResponse> it = InferenceGrpc.newBlockingStub(replicas.get(at))
                        .withDeadlineAfter(timeoutSeconds, TimeUnit.SECONDS).generate(attempt);
                while (it.hasNext()) {
                    GenerateResponse r = it.next();
                    if (r.hasDelta()) {
                        for (int id : r.getDelta().getTokenIdsList()) delivered.add(id);
                        listener.onDelta(r.getDelta());
                    } else if (r.hasFinished()) {
                        return new Result(r.getFinished(), null, resumes, List.copyOf(delivered));
                    }
                }
                return new Result(null, Status.INTERNAL.withDescription("the stream ended without Finished"),
                        resumes, List.copyOf(delivered));
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.UNAVAILABLE || resumes == maxResumes) {
                    return new Result(null, e.getStatus(), resumes, List.copyOf(delivered));
                }
                int next = (at + 1) % replicas.size();
                listener.onResume(at, next, delivered.size(), e.getStatus());
                at = next;
                resumes++;
            }
        }
    }
}
