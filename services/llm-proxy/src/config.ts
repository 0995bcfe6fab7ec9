/** llm-proxy reads only the shared bus settings and config.yaml's model_list so far. */
export const LlmProxyEnv = {};
