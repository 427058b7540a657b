package dev.tessera.gateway.grpc;

import dev.tessera.api.v1.JobError;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import dev.tessera.gateway.GatewayOptions;
import dev.tessera.scheduler.GenerationEvent;
import dev.tessera.scheduler.GenerationService;
import io.vertx.core.Context;
import io.vertx.grpc.common.GrpcStatus;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The jobs of one multiplexed {@code Session}, told apart by {@code request_id}: the part shared by the gRPC
 * stream ({@link SessionCall}) and the browser WebSocket. It handles each {@link SessionRequest} (start a
 * generate job, cancel one, refuse the kinds this server does not run), streams each job's events as
 * {@link SessionResponse}s, and answers a failing job with a {@code JobError} while the other jobs go on.
 *
 * <p>The transport stays with the session: how a response is written, when the session ends. It is told through
 * {@code jobEnded} each time a job leaves the table (completed, failed or cancelled) so that it can end once the
 * table is empty. Everything runs on the session's event loop; not thread-safe.
 */
public final class SessionJobs {
    /** How the session sends one response to its client. */
    @FunctionalInterface
    public interface Responses {
        void send(SessionResponse response);
    }

    private final Context context;
    private final WriteGate gate;
    private final Responses responses;
    private final int streamBatch;
    private final int maxJobs;
    private final Runnable jobEnded;
    private final Map<String, Job> jobs = new LinkedHashMap<>();

    /**
     * @param context   the session's event loop, where job events are delivered
     * @param gate      the session's sending side, which paces each job's demand
     * @param responses where responses go
     * @param options   the stream batch and the limit of live jobs per session
     * @param jobEnded  called after a job has left the table (completed, failed or cancelled; not on
     *                  {@link #cancelAll})
     */
    public SessionJobs(Context context, WriteGate gate, Responses responses, GatewayOptions options,
                       Runnable jobEnded) {
        this.context = context;
        this.gate = gate;
        this.responses = responses;
        this.streamBatch = options.streamBatch();
        this.maxJobs = options.maxJobsPerSession();
        this.jobEnded = jobEnded;
    }

    /**
     * Handles one client message.
     *
     * @param message     the request
     * @param service     the service that admits new jobs now, or null when none may start (loading, draining)
     * @param mapper      validates and maps a generate request; null while the model is loading
     * @param unavailable the error for a job refused because {@code service} or {@code mapper} is null
     */
    public void onRequest(SessionRequest message, @Nullable GenerationService service,
                          @Nullable RequestMapper mapper, Supplier<CallError> unavailable) {
        String id = message.getRequestId();
        switch (message.getKindCase()) {
            case GENERATE -> start(id, message, service, mapper, unavailable);
            case DIFFUSE -> sendError(id, CallError.of(GrpcStatus.UNIMPLEMENTED, InferenceService.NO_DIFFUSION));
            case DETECT -> sendError(id, CallError.of(GrpcStatus.UNIMPLEMENTED, InferenceService.NO_DETECTION));
            case CANCEL -> cancel(id);
            case KIND_NOT_SET -> sendError(id, CallError.invalid("kind",
                    "one of generate, diffuse, detect or cancel must be set"));
        }
    }

    /** Sends {@code error} as the {@code JobError} of job {@code id} ("" when the message had none). */
    public void sendError(String id, CallError error) {
        responses.send(SessionResponse.newBuilder().setRequestId(id).setError(JobError.newBuilder()
                .setCode(error.status().code).setMessage(error.message()).setField(error.field())).build());
    }

    /** True when no job is live. */
    public boolean isEmpty() {
        return jobs.isEmpty();
    }

    /** Live jobs. */
    public int size() {
        return jobs.size();
    }

    /** The request ids of the live jobs, in start order (a copy). */
    public List<String> ids() {
        return new ArrayList<>(jobs.keySet());
    }

    /** Cancels every live job and empties the table, sending nothing and not calling {@code jobEnded}. */
    public void cancelAll() {
        for (Job job : new ArrayList<>(jobs.values())) {
            job.subscriber.cancelJob();
        }
        jobs.clear();
    }

    private void start(String id, SessionRequest message, @Nullable GenerationService service,
                       @Nullable RequestMapper mapper, Supplier<CallError> unavailable) {
        if (id.isEmpty()) {
            sendError(id, CallError.invalid("request_id", "must not be empty"));
            return;
        }
        if (jobs.containsKey(id)) {
            sendError(id, CallError.invalid("request_id", "'" + id + "' is already used by a live job"));
            return;
        }
        if (jobs.size() >= maxJobs) {
            sendError(id, CallError.of(GrpcStatus.RESOURCE_EXHAUSTED, "this session already carries "
                    + jobs.size() + " jobs, the limit per session"));
            return;
        }
        if (service == null || mapper == null) {
            sendError(id, unavailable.get());
            return;
        }
        try {
            var flux = service.generate(mapper.toScheduler(id, message.getGenerate()));
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
        responses.send(SessionResponse.newBuilder().setRequestId(id).setFinished(EventMapper.cancelled()).build());
        jobEnded.run();
    }

    /** One generate job of the session. */
    private final class Job implements JobSink {
        private final String id;
        private final JobSubscriber subscriber;

        Job(String id) {
            this.id = id;
            this.subscriber = new JobSubscriber(context, gate, streamBatch, this);
        }

        @Override
        public void onEvent(GenerationEvent event) {
            SessionResponse.Builder b = SessionResponse.newBuilder().setRequestId(id);
            if (event instanceof GenerationEvent.TokenDelta d) {
                b.setDelta(EventMapper.delta(d));
            } else if (event instanceof GenerationEvent.Finished f) {
                b.setFinished(EventMapper.finished(f));
            }
            responses.send(b.build());
        }

        @Override
        public void onComplete() {
            if (jobs.remove(id, this)) {
                jobEnded.run();
            }
        }

        @Override
        public void onError(Throwable error) {
            if (jobs.remove(id, this)) {
                sendError(id, CallError.of(error));
                jobEnded.run();
            }
        }
    }
}
