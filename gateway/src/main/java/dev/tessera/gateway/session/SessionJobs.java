package dev.tessera.gateway.session;

import dev.tessera.api.v1.DiffuseResponse;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import dev.tessera.gateway.GatewayOptions;
import dev.tessera.gateway.mapping.DetectMapper;
import dev.tessera.gateway.mapping.DiffuseMapper;
import dev.tessera.gateway.mapping.EventMapper;
import dev.tessera.gateway.mapping.GenerateMapper;
import dev.tessera.scheduler.JobService;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.detect.DetectFrame;
import io.vertx.core.Context;
import io.vertx.grpc.common.GrpcStatus;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Sinks;

/**
 * The jobs of one multiplexed {@code Session}, told apart by {@code request_id}: the transport-neutral part shared
 * by the gRPC stream and the browser WebSocket. It handles each {@link SessionRequest} (start a generate job,
 * open a detection stream or feed it a frame, cancel a job, refuse the kinds this server does not run), streams
 * each job's events as {@link SessionResponse}s, and answers a failing job with a {@code JobError} while the other
 * jobs go on.
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
     * @param unavailable the error for a job refused because {@code service} is null
     */
    public void onRequest(SessionRequest message, @Nullable JobService service, Supplier<CallError> unavailable) {
        String id = message.getRequestId();
        switch (message.getKindCase()) {
            case GENERATE -> {
                if (admissible(id, service, unavailable)) {
                    start(id, service.generate(GenerateMapper.toDomain(id, message.getGenerate())), null);
                }
            }
            case DETECT -> frame(id, message, service, unavailable);
            case DIFFUSE -> {
                if (admissible(id, service, unavailable)) {
                    start(id, service.diffuse(DiffuseMapper.toDomain(message.getDiffuse())), null);
                }
            }
            case CANCEL -> cancel(id);
            case KIND_NOT_SET -> sendError(id, CallError.invalid("kind",
                    "one of generate, diffuse, detect or cancel must be set"));
        }
    }

    /**
     * A generate job refused before its message was decoded or mapped (its text over the model's byte bound,
     * {@link PromptCheck}): answered with {@code error}, after the checks every job gets first (its
     * {@code request_id}, the session's job limit, admission), so the answer is the one the job would have had.
     */
    public void refuseGenerate(String id, CallError error, @Nullable JobService service,
                               Supplier<CallError> unavailable) {
        if (admissible(id, service, unavailable)) sendError(id, error);
    }

    /** The client sent its last message: detection streams end after their waiting frames. */
    public void inputEnded() {
        for (Job job : new ArrayList<>(jobs.values())) {
            if (job.frames != null) job.frames.tryEmitComplete();
        }
    }

    /** Sends {@code error} as the {@code JobError} of job {@code id} ("" when the message had none). */
    public void sendError(String id, CallError error) {
        responses.send(SessionResponse.newBuilder().setRequestId(id).setError(EventMapper.error(error)).build());
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

    /** A frame for detection stream {@code id}: opens the stream if it is not live, else feeds it. */
    private void frame(String id, SessionRequest message, @Nullable JobService service,
                       Supplier<CallError> unavailable) {
        DetectFrame frame = DetectMapper.toDomain(message.getDetect());
        Job live = jobs.get(id);
        if (live != null) {
            if (live.frames == null) {
                sendError(id, CallError.invalid("request_id", "'" + id + "' is already used by a live job that is"
                        + " not a detection stream"));
            } else {
                live.frames.tryEmitNext(frame);
            }
            return;
        }
        if (!admissible(id, service, unavailable)) {
            return;
        }
        Sinks.Many<DetectFrame> frames = Sinks.many().unicast().onBackpressureBuffer();
        frames.tryEmitNext(frame);
        start(id, service.detect(frames.asFlux()), frames);
    }

    private boolean admissible(String id, @Nullable JobService service, Supplier<CallError> unavailable) {
        if (id.isEmpty()) {
            sendError(id, CallError.invalid("request_id", "must not be empty"));
            return false;
        }
        if (jobs.containsKey(id)) {
            sendError(id, CallError.invalid("request_id", "'" + id + "' is already used by a live job"));
            return false;
        }
        if (jobs.size() >= maxJobs) {
            sendError(id, CallError.of(GrpcStatus.RESOURCE_EXHAUSTED, "this session already carries "
                    + jobs.size() + " jobs, the limit per session"));
            return false;
        }
        if (service == null) {
            sendError(id, unavailable.get());
            return false;
        }
        return true;
    }

    private void start(String id, Flux<JobEvent> events, Sinks.@Nullable Many<DetectFrame> frames) {
        Job job = new Job(id, frames);
        jobs.put(id, job);
        events.subscribe(job.subscriber);
    }

    private void cancel(String id) {
        Job job = jobs.remove(id);
        if (job == null) {
            return;
        }
        job.subscriber.cancelJob();
        responses.send(SessionResponse.newBuilder().setRequestId(id).setFinished(EventMapper.cancelled(
                job.outputs, job.detections, (System.nanoTime() - job.startNanos) / 1e6)).build());
        jobEnded.run();
    }

    /** One job of the session: a generate job, or a detection stream with its frames. */
    private final class Job implements JobSink {
        private final String id;
        private final JobSubscriber subscriber;
        private final Sinks.@Nullable Many<DetectFrame> frames;
        private final long startNanos = System.nanoTime();
        /** Output tokens (text) and answered frames (detection) sent so far, for the Finished of a cancel. */
        private int outputs;
        private int detections;

        Job(String id, Sinks.@Nullable Many<DetectFrame> frames) {
            this.id = id;
            this.frames = frames;
            this.subscriber = new JobSubscriber(context, gate, streamBatch, this);
        }

        @Override
        public void onEvent(JobEvent event) {
            SessionResponse.Builder b = SessionResponse.newBuilder().setRequestId(id);
            if (event instanceof JobEvent.TokenDelta d) {
                outputs += d.tokenIds().length;
                b.setDelta(EventMapper.delta(d));
            } else if (event instanceof JobEvent.Finished f) {
                b.setFinished(EventMapper.finished(f));
            } else if (event instanceof JobEvent.Detections d) {
                detections++;
                b.setDetections(EventMapper.detections(d));
            } else if (event instanceof JobEvent.Error e) {
                b.setError(EventMapper.error(CallError.of(e.failure())));
            } else if (event instanceof JobEvent.Preview || event instanceof JobEvent.Image) {
                DiffuseResponse r = DiffuseMapper.response(event);
                if (r == null) return;
                if (r.hasPreview()) {
                    b.setPreview(r.getPreview());
                } else {
                    outputs++;
                    b.setImage(r.getImage());
                }
            } else {
                return;
            }
            responses.send(b.build());
        }

        @Override
        public void onComplete() {
            if (jobs.remove(id, this)) {
                if (frames != null) frames.tryEmitComplete();
                jobEnded.run();
            }
        }
    }
}
