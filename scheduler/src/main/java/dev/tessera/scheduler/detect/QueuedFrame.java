package dev.tessera.scheduler.detect;

/**
 * A prepared frame waiting in its stream for a step.
 *
 * @param frameId      the client's frame number
 * @param prepared     the detector's prepared frame
 * @param options      its post-processing options
 * @param arrivalNanos when it reached the server
 * @param <P>          the detector's prepared-frame type
 */
record QueuedFrame<P>(long frameId, P prepared, FrameOptions options, long arrivalNanos) {
}
