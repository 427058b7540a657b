package dev.tessera.gateway.grpc;

import dev.tessera.api.v1.JobError;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import dev.tessera.scheduler.GenerationEvent;
import dev.tessera.scheduler.GenerationService;
import io.vertx.core.Context;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.GrpcServerRequest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One bidirectional {@code Session} stream: many jobs, told apart by {@code request_id}, share it. A failing job
 * gets an error message; the stream and the other jobs go on. Reading pauses while the stream's write side is
 * full (inbound backpressure). When the client half-closes, the stream ends after its last job.
 */
final class SessionCall implements ActiveCall {
    private static final Logger logger = LoggerFactory.getLogger(SessionCall.class);

    private final InferenceService owner;
    private final GrpcServerRequest<SessionRequest, SessionResponse> request;
    private final Context context;
    private final Outbound<SessionResponse> outbound;
    private final Map<String, Job> jobs = new LinkedHashMap<>();
    private boolean halfClosed;
    private boolean ended;
    private boolean readingPaused;
    private boolean draining;
    private long deadlineTimer = -1;

    SessionCall(InferenceService owner, GrpcServerRequest<SessionRequest, SessionResponse> request,
                Context context) {
        this.owner = owner;
        this.request = request;
        this.context = context;
        this.outbound = new Outbound<>(request.response(), owner.options().writeQueueMaxBytes());
    }

    void start() {
        request.handler(this::onMessage);
        request.endHandler(v -> {
            halfClosed = true;
            maybeEnd();
        });
        request.invalidMessageHandler(e ->
                sendError("", GenerateCall.invalidMessage(e, owner.options().maxMessageBytes())));
        request.errorHandler(err -> clientGone("client error " + err));
        request.exceptionHandler(t -> clientGone(t.toString()));
        request.response().exceptionHandler(t -> clientGone(t.toString()));
        long timeout = request.timeout();
        if (timeout > 0) {
            deadlineTimer = owner.vertx().setTimer(timeout, id -> {
                deadlineTimer = -1;
                abort(CallError.of(GrpcStatus.DEADLINE_EXCEEDED, "deadline of " + timeout + " ms exceeded"));
            });
        }
    }

    /** Draining: the stream ends (UNAVAILABLE) once its live jobs are done, so the client can move elsewhere. */
    @Override
    public void draining() {
        draining = true;
        maybeEnd();
    }

    /** Live jobs (for tests). */
    int jobCount() {
        return jobs.size();
    }

    private void onMessage(SessionRequest message) {
        if (ended) {
            return;
        }
        String id = message.getRequestId();
        switch (message.getKindCase()) {
            case GENERATE -> startGenerate(id, message);
            case DIFFUSE -> sendError(id, CallError.of(GrpcStatus.UNIMPLEMENTED, InferenceService.NO_DIFFUSION));
            case DETECT -> sendError(id, CallError.of(GrpcStatus.UNIMPLEMENTED, InferenceService.NO_DETECTION));
            case CANCEL -> cancel(id);
            case KIND_NOT_SET -> sendError(id, CallError.invalid("kind",
                    "one of generate, diffuse, detect or cancel must be set"));
        }
        if (!readingPaused && outbound.full()) {
            readingPaused = true;
            request.pause();
            outbound.whenDrained(() -> {
                readingPaused = false;
                request.resume();
            });
        }
    }

    private void startGenerate(String id, SessionRequest message) {
        if (id.isEmpty()) {
            sendError(id, CallError.invalid("request_id", "must not be empty"));
            return;
        }
        if (jobs.containsKey(id)) {
            sendError(id, CallError.invalid("request_id", "'" + id + "' is already used by a live job"));
            return;
        }
        if (jobs.size() >= owner.options().maxJobsPerSession()) {
            sendError(id, CallError.of(GrpcStatus.RESOURCE_EXHAUSTED, "this session already carries "
                    + jobs.size() + " jobs, the limit per session"));
            return;
        }
        GenerationService service = owner.generation();
        if (service == null || owner.draining()) {
            sendError(id, owner.unavailableError());
            return;
        }
        try {
            var flux = service.generate(owner.mapper().toScheduler(id, message.getGenerate()));
            Job job = new Job(id);
            jobs.put(id, job);
            flux.subscribe(job.subscriber);
        } catch (RuntimeException e) {
            sendError(id, CallError.of(e));
        }
    }

    private void cancel(String id) {
        Job job = jobs.remove(id);
        if (job == null) {
            return;
        }
        job.subscriber.cancelJob();
        outbound.write(SessionResponse.newBuilder().setRequestId(id).setFinished(EventMapper.cancelled()).build());
        maybeEnd();
    }

    private void sendError(String id, CallError error) {
        outbound.write(SessionResponse.newBuilder().setRequestId(id).setError(JobError.newBuilder()
                .setCode(error.status().code).setMessage(error.message()).setField(error.field())).build());
    }

    private void maybeEnd() {
        if (ended || !jobs.isEmpty()) {
            return;
        }
        if (halfClosed) {
            ended = true;
            cancelTimer();
            outbound.end();
            owner.callEnded(this);
        } else if (draining) {
            abort(owner.unavailableError());
        }
    }

    private void cancelTimer() {
        if (deadlineTimer >= 0) {
            owner.vertx().cancelTimer(deadlineTimer);
            deadlineTimer = -1;
        }
    }

    @Override
    public void abort(CallError error) {
        if (ended) {
            return;
        }
        ended = true;
        cancelTimer();
        cancelAll();
        outbound.fail(error);
        owner.callEnded(this);
    }

    private void clientGone(String why) {
        if (ended) {
            return;
        }
        logger.debug("Session ended by the client: {}", why);
        ended = true;
        cancelTimer();
        outbound.markClosed();
        cancelAll();
        owner.callEnded(this);
    }

    private void cancelAll() {
        for (Job job : new ArrayList<>(jobs.values())) {
            job.subscriber.cancelJob();
        }
        jobs.clear();
    }

    /** One generate job of the session. */
    private final class Job implements JobSink {
        private final String id;
        private final JobSubscriber subscriber;

        Job(String id) {
            this.id = id;
            this.subscriber = new JobSubscriber(context, outbound, owner.options().streamBatch(), this);
        }

        @Override
        public void onEvent(GenerationEvent event) {
            SessionResponse.Builder b = SessionResponse.newBuilder().setRequestId(id);
            if (event instanceof GenerationEvent.TokenDelta d) {
                b.setDelta(EventMapper.delta(d));
            } else if (event instanceof GenerationEvent.Finished f) {
                b.setFinished(EventMapper.finished(f));
            }
            outbound.write(b.build());
        }

        @Override
        public void onComplete() {
            if (jobs.remove(id, this)) {
                maybeEnd();
            }
        }

        @Override
        public void onError(Throwable error) {
            if (jobs.remove(id, this)) {
                sendError(id, CallError.of(error));
                maybeEnd();
            }
        }
    }
}
