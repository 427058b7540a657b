package dev.tessera.loadtest.transport;

import dev.tessera.loadtest.measure.OutputNames;
import dev.tessera.loadtest.measure.RequestTrace;
import dev.tessera.loadtest.workload.LoadRequest;

/**
 * Sends requests and reports what comes back to each request's {@link RequestTrace}: the transport calls
 * {@link RequestTrace#tokens} as output arrives and ends the trace once. {@link #send} does not block on the answer;
 * it is called from one thread. {@link #close} ends what is still in flight.
 */
public interface Transport extends AutoCloseable {
    /** Sends {@code request}; its trace has been told when it was sent. */
    void send(LoadRequest request, RequestTrace trace);

    /** The transport's name: {@code grpc}, {@code session}, {@code sse} or {@code diffuse}. */
    String name();

    /** What its measures are called. */
    default OutputNames names() {
        return OutputNames.TEXT;
    }

    @Override
    void close();
}
