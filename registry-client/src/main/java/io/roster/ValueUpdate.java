package io.roster;

/**
 * The outcome of {@link Registry#updateValue}: the value written and the value it replaced, and
 * the revision of the update.
 *
 * @param <V> the value type
 */
public record ValueUpdate<V>(V newValue, V oldValue, long revision) {}
