package dev.tessera.gateway.session;

import dev.tessera.scheduler.core.JobEvent;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.reactivestreams.Subscription;
import reactor.core.publisher.BaseSubscriber;

/**
 * Subscribes to one job's event Flux and moves its events onto the call's event loop, with demand tied to the
 * client's ability to read.
 *
 * <p>It requests {@code batch} events, and asks for more only when at most half are outstanding <em>and</em> the
 * stream is writable. When the stream is full it waits for the drain callback. So per job, at most
 * {@code batch} events sit between scheduler and socket, and the scheduler pauses the sequence (its own bounded
 * buffer) while the client does not read. The event loop never blocks: events are handed over through a queue
 * drained by one task at a time (a work-in-progress counter); events that arrive on the event loop itself (a job
 * refused when subscribed) are handled at once.
 */
public final class JobSubscriber extends BaseSubscriber<JobEvent> {
    private final Context context;
    private final WriteGate outbound;
    private final int batch;
    private final JobSink sink;
    private final Queue<JobEvent> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger wip = new AtomicInteger();
    private volatile boolean done;
    // Event-loop state.
    private int outstanding;
    private boolean terminated;
    private boolean waitingForDrain;

    /**
     * @param context  the stream's event loop, where {@code sink} is called
     * @param outbound the stream's sending side, checked before asking for more events
     * @param batch    events requested at a time (refilled at half)
     * @param sink     where the events go
     */
    public JobSubscriber(Context context, WriteGate outbound, int batch, JobSink sink) {
        this.context = context;
        this.outbound = outbound;
        this.batch = batch;
        this.sink = sink;
        this.outstanding = batch;
    }

    @Override
    protected void hookOnSubscribe(Subscription subscription) {
        subscription.request(batch);
    }

    @Override
    protected void hookOnNext(JobEvent value) {
        queue.offer(value);
        schedule();
    }

    @Override
    protected void hookOnComplete() {
        done = true;
        schedule();
    }

    @Override
    protected void hookOnError(Throwable throwable) {
        // A job's Flux never errors (failures are Error events); should one, it ends like a completion.
        done = true;
        schedule();
    }

    /** Stops the job: the scheduler drops it and frees its blocks. Call on the event loop. */
    public void cancelJob() {
        terminated = true;
        queue.clear();
        dispose();
    }

    private void schedule() {
        if (wip.getAndIncrement() == 0) {
            if (Vertx.currentContext() == context) {
                // Already on the stream's event loop: a job refused as it was subscribed (a full queue, a quota)
                // is answered now, not one loop turn later behind every task queued meanwhile.
                drain();
            } else {
                context.runOnContext(v -> drain());
            }
        }
    }

    private void drain() {
        int missed = 1;
        do {
            if (terminated) {
                queue.clear();
            } else {
                JobEvent event;
                while ((event = queue.poll()) != null) {
                    outstanding--;
                    sink.onEvent(event);
                    if (terminated) {
                        break;
                    }
                }
                if (!terminated && done && queue.isEmpty()) {
                    terminated = true;
                    sink.onComplete();
                } else if (!terminated) {
                    requestMore();
                }
            }
            missed = wip.addAndGet(-missed);
        } while (missed != 0);
    }

    private void requestMore() {
        if (terminated || done || waitingForDrain || outstanding > batch / 2 || isDisposed()) {
            return;
        }
        if (outbound.full()) {
            waitingForDrain = true;
            outbound.whenDrained(() -> {
                waitingForDrain = false;
                requestMore();
            });
            return;
        }
        int n = batch - outstanding;
        outstanding = batch;
        request(n);
    }
}
