/**
 * effect-uid2/testing: the public test kit — deterministic layers, key ring
 * and token builders, fast-check arbitraries and a local operator.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Builders from "./Builders.js"
/** @since 0.1.0 */
export * as TestOperator from "./TestOperator.js"
/** @since 0.1.0 */
export * as Arbitraries from "./Arbitraries.js"
/** @since 0.1.0 */
export * as KeyStoreConformance from "./KeyStoreConformance.js"
