package dev.tessera.gateway.grpc;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.gateway.mapping.EventMapper;
import dev.tessera.gateway.mapping.GenerateMapper;
import dev.tessera.gateway.session.CallError;
import dev.tessera.gateway.session.JobSink;
import dev.tessera.gateway.session.JobSubscriber;
import dev.tessera.scheduler.JobService;
import dev.tessera.scheduler.core.JobEvent;
import io.vertx.core.Context;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.MessageSizeOverflowException;
import io.vertx.grpc.server.GrpcServerRequest;
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One server-streaming {@code Generate} call: maps the request, subscribes to the job's Flux and streams deltas
 * and Finished messages; a failed job ends the call with its status. Cancelled when the client cancels or
 * disconnects, or the deadline passes.
 */
final class GenerateCall implements ActiveCall, JobSink {
    private static final Logger logger = LoggerFactory.getLogger(GenerateCall.class);

    private final InferenceService owner;
    private final GrpcServerRequest<GenerateRequest, GenerateResponse> request;
    private final Context context;
    private final Outbound<GenerateResponse> outbound;
    private @Nullable JobSubscriber job;
    private @Nullable CallError failure;
    private long deadlineTimer = -1;
    private boolean ended;

    GenerateCall(InferenceService owner, GrpcServerRequest<GenerateRequest, GenerateResponse> request,
                 Context context) {
        this.owner = owner;
        this.request = request;
        this.context = context;
        this.outbound = new Outbound<>(request.response(), owner.options().writeQueueMaxBytes());
    }

    void start() {
        request.handler(this::onRequest);
        request.endHandler(v -> {
            if (job == null && !ended) {
                finish(CallError.invalid("request", "the client sent no GenerateRequest message"));
            }
        });
        request.invalidMessageHandler(e -> finish(invalidMessage(e, owner.options().maxMessageBytes())));
        request.errorHandler(err -> clientGone("client error " + err));
        request.exceptionHandler(t -> clientGone(t.toString()));
        request.response().exceptionHandler(t -> clientGone(t.toString()));
        long timeout = request.timeout();
        if (timeout > 0) {
            deadlineTimer = owner.vertx().setTimer(timeout, id -> {
                deadlineTimer = -1;
                finish(CallError.of(GrpcStatus.DEADLINE_EXCEEDED, "deadline of " + timeout + " ms exceeded"));
            });
        }
    }

    private void onRequest(GenerateRequest message) {
        if (job != null || ended) {
            return;
        }
        JobService service = owner.service();
        if (service == null) {
            finish(owner.unavailableError());
            return;
        }
        String id = "gen-" + UUID.randomUUID();
        JobSubscriber subscriber = new JobSubscriber(context, outbound, owner.options().streamBatch(), this);
        job = subscriber;
        service.generate(GenerateMapper.toDomain(id, message)).subscribe(subscriber);
    }

    @Override
    public void onEvent(JobEvent event) {
        if (event instanceof JobEvent.TokenDelta d) {
            outbound.write(GenerateResponse.newBuilder().setDelta(EventMapper.delta(d)).build());
        } else if (event instanceof JobEvent.Finished f) {
            outbound.write(GenerateResponse.newBuilder().setFinished(EventMapper.finished(f)).build());
        } else if (event instanceof JobEvent.Error e) {
            failure = CallError.of(e.failure());
        }
    }

    @Override
    public void onComplete() {
        job = null;
        finish(failure);
    }

    @Override
    public void abort(CallError error) {
        finish(error);
    }

    /** Ends the call once: OK when {@code error} is null. Cancels the job if it still runs. */
    private void finish(@Nullable CallError error) {
        if (ended) {
            return;
        }
        ended = true;
        cancelTimerAndJob();
        if (error == null) {
            outbound.end();
        } else {
            outbound.fail(error);
        }
        owner.callEnded(this);
    }

    private void clientGone(String why) {
        if (ended) {
            return;
        }
        logger.debug("Generate call ended by the client: {}", why);
        ended = true;
        outbound.markClosed();
        cancelTimerAndJob();
        owner.callEnded(this);
    }

    private void cancelTimerAndJob() {
        if (deadlineTimer >= 0) {
            owner.vertx().cancelTimer(deadlineTimer);
            deadlineTimer = -1;
        }
        JobSubscriber j = job;
        job = null;
        if (j != null) {
            j.cancelJob();
        }
    }

    static CallError invalidMessage(Throwable e, int limit) {
        if (e instanceof MessageSizeOverflowException) {
            return CallError.of(GrpcStatus.RESOURCE_EXHAUSTED,
                    "message larger than the server's limit of " + limit + " bytes");
        }
        return CallError.of(GrpcStatus.INVALID_ARGUMENT, "malformed message: " + e.getMessage());
    }
}
