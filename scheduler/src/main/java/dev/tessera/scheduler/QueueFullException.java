package dev.tessera.scheduler;

/** The waiting queue is at its bound. Maps to gRPC RESOURCE_EXHAUSTED. */
public final class QueueFullException extends RuntimeException {
    public QueueFullException(int bound) {
        super("queue full: " + bound + " requests already waiting");
    }
}
