// Continue's own code on a rendered continueConfig (tests/live/test_continue.py runs this).
// Parses and validates the file with Continue's config package, then chats through its first
// model with Continue's OpenAI adapter, whose fetch applies the model's requestOptions (the CA
// bundle and the headers). Nothing else tells Node about the CA or the key.
// Prints one JSON line: validation errors, the model's roles, the reply and the streamed reply.
import { readFileSync } from "node:fs";
import { parseConfigYaml, validateConfigYaml } from "@continuedev/config-yaml";
import { constructLlmApi } from "@continuedev/openai-adapters";

const config = parseConfigYaml(readFileSync(process.argv[2], "utf8"));
const errors = validateConfigYaml(config).map((error) => error.message);
const model = config.models[0];
const api = constructLlmApi({
  provider: model.provider,
  apiKey: model.apiKey,
  apiBase: model.apiBase,
  requestOptions: model.requestOptions,
});
const request = { model: model.model, messages: [{ role: "user", content: "hi" }] };
const signal = new AbortController().signal;
const reply = await api.chatCompletionNonStream({ ...request, stream: false }, signal);
let streamed = "";
for await (const chunk of api.chatCompletionStream({ ...request, stream: true }, signal)) {
  streamed += chunk.choices[0]?.delta?.content ?? "";
}
console.log(JSON.stringify({ errors, roles: model.roles, reply: reply.choices[0].message.content, streamed }));
