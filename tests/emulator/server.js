#!/usr/bin/env node
'use strict';
// Telegram Bot API emulator for end-to-end tests (loopback only).
//
//   node tests/emulator/server.js --port 0        # prints {"ready":true,"port":N,...} when ready
//
// Bot side:  /bot<TOKEN>/<method>  (GET or POST; JSON, urlencoded or multipart bodies)
//            /file/bot<TOKEN>/<file_path>  (downloads for getFile)
// Test side: /_test/...  (see README.md)
// Anything else falls through to telegram-test-api's own Express app (its legacy client routes
// /sendMessage, /sendCommand, /sendCallback, /getUpdates, /getUpdatesHistory keep working and
// feed the same update queue).

const http = require('http');
const crypto = require('crypto');
const EventEmitter = require('events');
const express = require('express');
const Busboy = require('busboy');
const axios = require('axios');
const TelegramServer = require('telegram-test-api');
const { parseHtml, HtmlError } = require('./html');

// ---------------------------------------------------------------------------------------------
// command line

function parseArgs(argv) {
  const opts = { port: 0, exitOnStdinClose: false, verbose: false };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (a === '--port') opts.port = Number(argv[(i += 1)]);
    else if (a.startsWith('--port=')) opts.port = Number(a.slice(7));
    else if (a === '--exit-on-stdin-close') opts.exitOnStdinClose = true;
    else if (a === '--verbose') opts.verbose = true;
    else {
      process.stderr.write(`unknown argument: ${a}\n`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    process.stderr.write('--port must be an integer 0-65535\n');
    process.exit(2);
  }
  return opts;
}

const OPTS = require.main === module ? parseArgs(process.argv.slice(2)) : { verbose: false };
const log = (...args) => process.stderr.write(`[tg-emulator] ${args.join(' ')}\n`);

// ---------------------------------------------------------------------------------------------
// errors and small helpers

class ApiError extends Error {
  constructor(code, description, parameters) {
    super(description);
    this.code = code;
    this.description = description;
    this.parameters = parameters;
  }
}
const bad = (what) => new ApiError(400, `Bad Request: ${what}`);

const nowSeconds = () => Math.floor(Date.now() / 1000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TOKEN_RE = /^([0-9]{1,20}):[A-Za-z0-9_-]{1,100}$/;

const JSON_PARAMS = new Set([
  'reply_markup', 'entities', 'caption_entities', 'allowed_updates', 'commands', 'scope',
  'menu_button', 'link_preview_options', 'reply_parameters', 'media', 'results', 'message_ids',
]);

function jsonParam(params, name) {
  const v = params[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch (e) {
    if (name === 'reply_markup') throw bad("can't parse reply keyboard markup JSON object");
    if (name === 'entities' || name === 'caption_entities') throw bad("can't parse entities JSON object");
    throw bad(`can't parse ${name} JSON object`);
  }
}

function intParam(params, name, { required = false } = {}) {
  const v = params[name];
  if (v === undefined || v === null || v === '') {
    if (required) throw bad(`${name} is empty`);
    return undefined;
  }
  const num = Number(v);
  if (!Number.isFinite(num)) throw bad(`invalid ${name} specified`);
  return Math.trunc(num);
}

function boolParam(params, name) {
  const v = params[name];
  return v === true || v === 'true' || v === 'True' || v === '1' || v === 1;
}

function stableChatInstance(chatId) {
  const h = crypto.createHash('sha256').update(`chat-instance:${chatId}`).digest();
  return h.readBigInt64BE(0).toString();
}

function clone(obj) {
  return obj === undefined ? undefined : JSON.parse(JSON.stringify(obj));
}

// ---------------------------------------------------------------------------------------------
// the world: chats, users, messages, files, updates, counters

const DEFAULT_CONFIG = {
  bot_first_name: 'Emulated Bot',
  bot_username: 'emulated_bot',
  // sending to a chat nobody created answers 400 "chat not found" unless this is true
  auto_create_chats: false,
  // getUpdates timeouts are capped like the real server's
  max_long_poll_seconds: 50,
};
const DEFAULT_FLOOD = {
  enabled: false,
  per_second: 30,
  per_chat_per_second: 1,
  per_group_per_minute: 20,
};
const DEFAULT_ALLOWED = [
  'message', 'edited_message', 'channel_post', 'edited_channel_post', 'business_connection',
  'business_message', 'edited_business_message', 'deleted_business_messages', 'inline_query',
  'chosen_inline_result', 'callback_query', 'shipping_query', 'pre_checkout_query',
  'purchased_paid_media', 'poll', 'poll_answer', 'my_chat_member', 'chat_join_request',
  'chat_boost', 'removed_chat_boost',
];
const MESSAGE_METHODS = new Set([
  'sendmessage', 'senddocument', 'sendphoto', 'sendaudio', 'sendvideo', 'sendanimation',
  'sendvoice', 'sendvideonote', 'sendsticker', 'sendlocation', 'sendvenue', 'sendcontact',
  'sendpoll', 'senddice', 'sendmediagroup', 'forwardmessage', 'copymessage',
]);

// telegram-test-api's server object is kept as the update store: its storage arrays, its update
// id counter and its webhook registry. It is never start()ed (we own the HTTP server), so its
// storeTimeout purge never runs and nothing read disappears after a minute.
const tts = new TelegramServer({ port: 1, host: '127.0.0.1', storeTimeout: 3600 });

const events = new EventEmitter();
events.setMaxListeners(0);
const changed = () => events.emit('change');
// The legacy client routes of telegram-test-api emit these: wake the long polls too.
for (const ev of ['AddedUserMessage', 'AddedUserCommand', 'AddedUserCallbackQuery', 'AddedBotMessage']) {
  tts.on(ev, changed);
}

let state;
function freshState() {
  tts.storage.userMessages = [];
  tts.storage.botMessages = [];
  tts.webhooks = {};
  return {
    config: { ...DEFAULT_CONFIG },
    flood: { ...DEFAULT_FLOOD },
    floodLog: { all: [], perChat: new Map() },
    chats: new Map(), // String(id) -> chat
    users: new Map(), // String(id) -> user
    files: new Map(), // file_id -> {file_id, file_unique_id, file_path, file_name, mime_type, data}
    filesByPath: new Map(),
    fileSeq: 0,
    callbacks: new Map(), // id -> {query, answered, answer}
    callbackSeq: 0,
    commands: new Map(), // scope key -> [BotCommand]
    menuButtons: new Map(), // chat id or '' -> MenuButton
    allowedUpdates: new Map(), // token -> list
    injections: [],
    injectionSeq: 0,
    calls: [],
    callSeq: 0,
    counters: { calls: {}, errors: {}, messages_per_chat: {}, unknown_methods: {}, flood_rejections: 0 },
    webhook: null, // {url, secret_token, ...}
    pollers: new Map(), // token -> {res, finish}
  };
}
state = freshState();

function botUser(token) {
  const m = TOKEN_RE.exec(token || '');
  return {
    id: m ? Number(m[1]) : 0,
    is_bot: true,
    first_name: state.config.bot_first_name,
    username: state.config.bot_username,
  };
}

function normUser(spec) {
  if (spec === undefined || spec === null) throw bad('user ("from") is required');
  const u = typeof spec === 'object' ? { ...spec } : { id: Number(spec) };
  if (!Number.isSafeInteger(u.id) || u.id <= 0) throw bad(`invalid user id ${JSON.stringify(spec)}`);
  const known = state.users.get(String(u.id)) || {};
  const user = { id: u.id, is_bot: Boolean(u.is_bot), first_name: u.first_name || known.first_name || `User${u.id}` };
  for (const k of ['last_name', 'username', 'language_code', 'is_premium']) {
    if (u[k] !== undefined) user[k] = u[k];
    else if (known[k] !== undefined) user[k] = known[k];
  }
  state.users.set(String(user.id), user);
  return user;
}

function chatTypeForId(id) {
  if (id > 0) return 'private';
  if (id <= -1000000000000) return 'supergroup';
  return 'group';
}

function makeChat(spec, user) {
  const s = typeof spec === 'object' && spec !== null ? spec : { id: Number(spec) };
  const id = Number(s.id);
  if (!Number.isSafeInteger(id) || id === 0) throw bad(`invalid chat id ${JSON.stringify(spec)}`);
  const type = s.type || chatTypeForId(id);
  if (!['private', 'group', 'supergroup', 'channel'].includes(type)) throw bad(`invalid chat type ${type}`);
  if ((type === 'private') !== (id > 0)) throw bad(`a ${type} chat cannot have id ${id}`);
  let chat = state.chats.get(String(id));
  if (!chat) {
    chat = {
      id,
      type,
      members: new Map(), // String(user id) -> status
      messages: [], // {message, kind: 'bot'|'user', deleted}
      nextMessageId: 1,
      blocked: false,
      migratedTo: null,
    };
    state.chats.set(String(id), chat);
  }
  chat.type = type;
  if (type === 'private') {
    const u = user || state.users.get(String(id)) || { id, first_name: `User${id}` };
    if (u.id !== id) throw bad(`private chat ${id} belongs to user ${id}, not ${u.id}`);
    chat.first_name = s.first_name || u.first_name;
    if (s.last_name || u.last_name) chat.last_name = s.last_name || u.last_name;
    if (s.username || u.username) chat.username = s.username || u.username;
  } else {
    chat.title = s.title || chat.title || `${type === 'channel' ? 'Channel' : 'Group'} ${id}`;
    if (s.username !== undefined) chat.username = s.username;
    if (s.is_forum !== undefined) chat.is_forum = Boolean(s.is_forum);
  }
  return chat;
}

function chatObject(chat) {
  const o = { id: chat.id, type: chat.type };
  if (chat.type === 'private') {
    o.first_name = chat.first_name;
    if (chat.last_name) o.last_name = chat.last_name;
    if (chat.username) o.username = chat.username;
  } else {
    o.title = chat.title;
    if (chat.username) o.username = chat.username;
    if (chat.is_forum) o.is_forum = true;
  }
  return o;
}

function findChat(chatIdParam) {
  if (chatIdParam === undefined || chatIdParam === null || chatIdParam === '') throw bad('chat_id is empty');
  const raw = String(chatIdParam);
  if (raw.startsWith('@')) {
    for (const chat of state.chats.values()) {
      if (chat.username && `@${chat.username}`.toLowerCase() === raw.toLowerCase()) return chat;
    }
    throw bad('chat not found');
  }
  const id = Number(raw);
  if (!Number.isSafeInteger(id) || id === 0) throw bad('chat not found');
  const chat = state.chats.get(String(id));
  if (chat) return chat;
  if (state.config.auto_create_chats) return makeChat({ id });
  throw bad('chat not found');
}

// A chat the bot writes to: checks blocks and migrations like the real server.
function targetChat(params) {
  const chat = findChat(params.chat_id);
  if (chat.migratedTo !== null) {
    throw new ApiError(400, 'Bad Request: group chat was upgraded to a supergroup chat', {
      migrate_to_chat_id: chat.migratedTo,
    });
  }
  if (chat.blocked) {
    if (chat.type === 'private') throw new ApiError(403, 'Forbidden: bot was blocked by the user');
    if (chat.type === 'group') throw new ApiError(403, 'Forbidden: bot was kicked from the group chat');
    if (chat.type === 'supergroup') throw new ApiError(403, 'Forbidden: bot was kicked from the supergroup chat');
    throw new ApiError(403, 'Forbidden: bot is not a member of the channel chat');
  }
  return chat;
}

function findEntry(chat, messageId) {
  return chat.messages.find((e) => e.message.message_id === messageId && !e.deleted);
}

function addMessage(chat, kind, message, token) {
  message.message_id = chat.nextMessageId;
  chat.nextMessageId += 1;
  const entry = { message, kind, deleted: false, sent_at: Date.now() / 1000 };
  chat.messages.push(entry);
  if (kind === 'bot') {
    const key = String(chat.id);
    state.counters.messages_per_chat[key] = (state.counters.messages_per_chat[key] || 0) + 1;
    // mirror into telegram-test-api's bot store so its /getUpdatesHistory client route sees it;
    // chat_id is non-enumerable so it never reaches a JSON answer.
    Object.defineProperty(message, 'chat_id', { value: chat.id, enumerable: false, configurable: true });
    tts.storage.botMessages.push({
      time: Date.now(), botToken: token, message, updateId: 0, messageId: message.message_id, isRead: false,
    });
  }
  changed();
  return entry;
}

// ---------------------------------------------------------------------------------------------
// updates (stored in telegram-test-api's userMessages array)

function updateType(update) {
  return Object.keys(update).find((k) => k !== 'update_id');
}

// Records from our own control routes carry a full `update`; records from the legacy client
// routes carry `message` or `callbackQuery` and are completed here (chat_instance, seconds, ...).
function formatRecord(record) {
  if (record.update) return { update_id: record.updateId, ...record.update };
  if (record.callbackQuery) {
    const cq = record.callbackQuery;
    const message = cq.message || {};
    const chatId = (message.chat && message.chat.id) || (cq.from && cq.from.id);
    return {
      update_id: record.updateId,
      callback_query: {
        id: String(record.callbackId),
        from: { is_bot: false, ...cq.from },
        message: { date: nowSeconds(), ...message },
        chat_instance: stableChatInstance(chatId),
        data: cq.data,
      },
    };
  }
  const message = { ...record.message, message_id: record.message.message_id || record.messageId };
  delete message.botToken;
  if (message.from) message.from = { is_bot: false, ...message.from };
  if (!message.date || message.date > 1e11) message.date = Math.floor((message.date || Date.now()) / 1000);
  if (!message.chat && message.from) message.chat = { id: message.from.id, type: 'private', first_name: message.from.first_name };
  return { update_id: record.updateId, message };
}

function enqueueUpdate(update) {
  const record = {
    time: Date.now(), botToken: null, updateId: tts.updateId, isRead: false, update,
  };
  tts.updateId += 1;
  tts.storage.userMessages.push(record);
  changed();
  if (state.webhook) deliverWebhooks();
  return record.updateId;
}

let webhookBusy = false;
async function deliverWebhooks() {
  if (webhookBusy) return;
  webhookBusy = true;
  try {
    while (state.webhook && tts.storage.userMessages.length > 0) {
      const hook = state.webhook;
      const record = tts.storage.userMessages[0];
      const headers = { 'Content-Type': 'application/json' };
      if (hook.secret_token) headers['X-Telegram-Bot-Api-Secret-Token'] = hook.secret_token;
      try {
        const resp = await axios.post(hook.url, formatRecord(record), {
          headers, timeout: 10000, validateStatus: () => true,
        });
        if (resp.status >= 200 && resp.status < 300) {
          tts.storage.userMessages.shift();
          hook.last_error_date = undefined;
          continue;
        }
        hook.last_error_date = nowSeconds();
        hook.last_error_message = `Wrong response from the webhook: ${resp.status}`;
      } catch (e) {
        hook.last_error_date = nowSeconds();
        hook.last_error_message = `Connection failed: ${e.message}`;
      }
      await sleep(500);
    }
  } finally {
    webhookBusy = false;
  }
}

function allowedFor(token) {
  return state.allowedUpdates.get(token) || DEFAULT_ALLOWED;
}

function selectUpdates(token, offset, limit) {
  let queue = tts.storage.userMessages.filter((r) => !r.botToken || r.botToken === token);
  if (offset !== undefined && offset < 0) {
    const keep = queue.slice(offset);
    const drop = new Set(queue.slice(0, queue.length + offset));
    tts.storage.userMessages = tts.storage.userMessages.filter((r) => !drop.has(r));
    queue = keep;
  } else if (offset !== undefined && offset > 0) {
    // confirming: every update with a smaller id is forgotten
    tts.storage.userMessages = tts.storage.userMessages.filter(
      (r) => !(r.updateId < offset && (!r.botToken || r.botToken === token)),
    );
    queue = queue.filter((r) => r.updateId >= offset);
  }
  const allowed = new Set(allowedFor(token));
  const unwanted = new Set(queue.filter((r) => !allowed.has(updateType(formatRecord(r)))));
  if (unwanted.size) {
    tts.storage.userMessages = tts.storage.userMessages.filter((r) => !unwanted.has(r));
    queue = queue.filter((r) => !unwanted.has(r));
  }
  return queue.slice(0, limit).map((r) => {
    r.isRead = true; // eslint-disable-line no-param-reassign
    return formatRecord(r);
  });
}

// ---------------------------------------------------------------------------------------------
// message building and validation

function parseFormatted(text, parseMode, entitiesParam, limit, tooLong, emptyWhat) {
  let plain = text;
  let entities;
  const mode = (parseMode || '').toLowerCase();
  if (mode === 'html') {
    try {
      ({ text: plain, entities } = parseHtml(text));
    } catch (e) {
      if (e instanceof HtmlError) throw bad(`can't parse entities: ${e.message}`);
      throw e;
    }
  } else if (mode === '' || mode === 'markdown' || mode === 'markdownv2') {
    // Markdown modes are passed through unparsed (not emulated).
    if (entitiesParam) entities = entitiesParam;
  } else {
    throw bad(`unsupported parse_mode "${parseMode}"`);
  }
  if (emptyWhat && plain.trim() === '') throw bad(emptyWhat);
  if ([...plain].length > limit) throw bad(tooLong);
  return { text: plain, entities: entities && entities.length ? entities : undefined };
}

function validateUrl(url) {
  try {
    const u = new URL(url);
    return ['http:', 'https:', 'tg:', 'ton:'].includes(u.protocol);
  } catch (e) {
    return false;
  }
}

function validateReplyMarkup(markup) {
  if (markup === undefined) return undefined;
  if (typeof markup !== 'object' || markup === null) throw bad("can't parse reply keyboard markup JSON object");
  if (markup.inline_keyboard !== undefined) {
    const rows = markup.inline_keyboard;
    if (!Array.isArray(rows)) throw bad('field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays');
    for (const row of rows) {
      if (!Array.isArray(row)) throw bad('field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays');
      for (const button of row) {
        if (!button || typeof button.text !== 'string') {
          throw bad("can't parse inline keyboard button: Field \"text\" must be of type String");
        }
        const actions = ['url', 'callback_data', 'web_app', 'login_url', 'switch_inline_query',
          'switch_inline_query_current_chat', 'switch_inline_query_chosen_chat', 'copy_text',
          'callback_game', 'pay'].filter((k) => button[k] !== undefined);
        if (actions.length === 0) throw bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard");
        if (button.callback_data !== undefined) {
          const n = Buffer.byteLength(String(button.callback_data), 'utf8');
          if (typeof button.callback_data !== 'string' || n < 1 || n > 64) throw bad('BUTTON_DATA_INVALID');
        }
        if (button.url !== undefined && !validateUrl(button.url)) throw bad('BUTTON_URL_INVALID');
      }
    }
  }
  return markup;
}

function inlineOnly(markup) {
  return markup && markup.inline_keyboard ? markup : undefined;
}

function replyTarget(chat, params) {
  let replyTo = intParam(params, 'reply_to_message_id');
  let allowWithout = boolParam(params, 'allow_sending_without_reply');
  const rp = jsonParam(params, 'reply_parameters');
  if (rp) {
    replyTo = Number(rp.message_id);
    if (rp.allow_sending_without_reply) allowWithout = true;
    if (rp.chat_id !== undefined && String(rp.chat_id) !== String(chat.id)) return undefined;
  }
  if (replyTo === undefined) return undefined;
  const entry = findEntry(chat, replyTo);
  if (!entry) {
    if (allowWithout) return undefined;
    throw bad('message to be replied not found');
  }
  return clone(entry.message);
}

function floodCheck(chat) {
  if (!state.flood.enabled) return;
  const now = Date.now();
  const f = state.flood;
  const log_ = state.floodLog;
  log_.all = log_.all.filter((t) => t > now - 1000);
  const key = String(chat.id);
  const isGroup = chat.type !== 'private';
  const window = isGroup ? 60000 : 1000;
  const limit = isGroup ? f.per_group_per_minute : f.per_chat_per_second;
  const mine = (log_.perChat.get(key) || []).filter((t) => t > now - window);
  log_.perChat.set(key, mine);
  let wait = 0;
  if (log_.all.length >= f.per_second) wait = Math.max(wait, log_.all[log_.all.length - f.per_second] + 1000 - now);
  if (mine.length >= limit) wait = Math.max(wait, mine[mine.length - limit] + window - now);
  if (wait > 0) {
    state.counters.flood_rejections += 1;
    const retryAfter = Math.max(1, Math.ceil(wait / 1000));
    throw new ApiError(429, `Too Many Requests: retry after ${retryAfter}`, { retry_after: retryAfter });
  }
}

function floodRecord(chat) {
  if (!state.flood.enabled) return;
  const now = Date.now();
  state.floodLog.all.push(now);
  const key = String(chat.id);
  const list = state.floodLog.perChat.get(key) || [];
  list.push(now);
  state.floodLog.perChat.set(key, list);
}

function baseBotMessage(ctx, chat) {
  const msg = { message_id: 0, from: botUser(ctx.token), chat: chatObject(chat), date: nowSeconds() };
  return msg;
}

function storeFile(data, fileName, mimeType, kind) {
  state.fileSeq += 1;
  const n = state.fileSeq;
  const fileId = `BQACAgIAAxkB${crypto.randomBytes(12).toString('hex')}${n}`;
  const ext = fileName && fileName.includes('.') ? fileName.slice(fileName.lastIndexOf('.')) : '';
  const file = {
    file_id: fileId,
    file_unique_id: `AgAD${n.toString(36)}${crypto.randomBytes(3).toString('hex')}`,
    file_path: `${kind}/file_${n}${ext}`,
    file_name: fileName,
    mime_type: mimeType,
    data,
  };
  state.files.set(fileId, file);
  state.filesByPath.set(file.file_path, file);
  return file;
}

// ---------------------------------------------------------------------------------------------
// bot API methods

const CHAT_ACTIONS = new Set(['typing', 'upload_photo', 'record_video', 'upload_video', 'record_voice',
  'upload_voice', 'upload_document', 'choose_sticker', 'find_location', 'record_video_note',
  'upload_video_note']);

function memberStatus(chat, userId, token) {
  if (chat.type === 'private') return 'member';
  const bot = botUser(token);
  const st = chat.members.get(String(userId));
  if (st) return st;
  if (userId === bot.id) return 'member';
  return 'left';
}

function chatMemberObject(chat, user, status) {
  const m = { status, user };
  if (status === 'creator') {
    m.is_anonymous = false;
  } else if (status === 'administrator') {
    Object.assign(m, {
      can_be_edited: false, is_anonymous: false, can_manage_chat: true, can_delete_messages: true,
      can_manage_video_chats: true, can_restrict_members: true, can_promote_members: false,
      can_change_info: true, can_invite_users: true, can_post_stories: false, can_edit_stories: false,
      can_delete_stories: false, can_pin_messages: true,
    });
    if (chat.type === 'supergroup') m.can_manage_topics = false;
  } else if (status === 'kicked') {
    m.until_date = 0;
  }
  return m;
}

function userInfo(userId, token) {
  const bot = botUser(token);
  if (userId === bot.id) return bot;
  return state.users.get(String(userId)) || { id: userId, is_bot: false, first_name: `User${userId}` };
}

function commandsKey(params) {
  const scope = jsonParam(params, 'scope') || { type: 'default' };
  return JSON.stringify([scope.type, scope.chat_id === undefined ? null : String(scope.chat_id),
    scope.user_id === undefined ? null : Number(scope.user_id), params.language_code || '']);
}

function editTarget(ctx) {
  const { params } = ctx;
  if (params.inline_message_id) return null;
  const chat = targetChat(params);
  const messageId = intParam(params, 'message_id', { required: true });
  const entry = findEntry(chat, messageId);
  if (!entry) throw bad('message to edit not found');
  if (entry.kind !== 'bot') throw bad("message can't be edited");
  return { chat, entry };
}

function applyEdit(entry, changes) {
  const before = JSON.stringify([entry.message.text, entry.message.entities, entry.message.caption,
    entry.message.caption_entities, entry.message.reply_markup]);
  const next = { ...entry.message, ...changes };
  for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
  const after = JSON.stringify([next.text, next.entities, next.caption, next.caption_entities, next.reply_markup]);
  if (before === after) {
    throw bad('message is not modified: specified new message content and reply markup are exactly '
      + 'the same as a current content and reply markup of the message');
  }
  next.edit_date = nowSeconds();
  // edit in place: the same object stays in the history (and in telegram-test-api's store)
  for (const k of Object.keys(entry.message)) delete entry.message[k];
  Object.assign(entry.message, next);
  entry.edits = (entry.edits || 0) + 1;
  changed();
  return clone(entry.message);
}

const METHODS = {
  async getMe(ctx) {
    return {
      ...botUser(ctx.token),
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
    };
  },
  async logOut() { return true; },
  async close() { return true; },

  async getUpdates(ctx, req, res) {
    const { params, token } = ctx;
    if (state.webhook) {
      throw new ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
    }
    const offset = intParam(params, 'offset');
    let limit = intParam(params, 'limit');
    if (limit === undefined || limit <= 0 || limit > 100) limit = 100;
    let timeout = Number(params.timeout || 0);
    if (!Number.isFinite(timeout) || timeout < 0) timeout = 0;
    timeout = Math.min(timeout, state.config.max_long_poll_seconds);
    const allowed = jsonParam(params, 'allowed_updates');
    if (allowed !== undefined) {
      if (!Array.isArray(allowed)) throw bad("can't parse allowed_updates JSON object");
      if (allowed.length) state.allowedUpdates.set(token, allowed.map(String));
      else state.allowedUpdates.delete(token);
    }
    // a newer getUpdates terminates the older one, like the real server
    const previous = state.pollers.get(token);
    if (previous) previous.conflict();

    let result = selectUpdates(token, offset, limit);
    if (result.length || timeout === 0) return result;

    result = await new Promise((resolve) => {
      let done = false;
      const finish = (value) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        events.off('change', onChange);
        res.off('close', onClose);
        if (state.pollers.get(token) === poller) state.pollers.delete(token);
        resolve(value);
      };
      const onChange = () => {
        const ready = selectUpdates(token, offset, limit);
        if (ready.length) finish(ready);
      };
      const onClose = () => finish(null);
      const timer = setTimeout(() => finish([]), timeout * 1000);
      const poller = {
        conflict: () => finish(new ApiError(409, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running')),
      };
      state.pollers.set(token, poller);
      events.on('change', onChange);
      res.on('close', onClose);
    });
    if (result instanceof ApiError) throw result;
    return result;
  },

  async setWebhook(ctx) {
    const { params } = ctx;
    const url = params.url || '';
    if (!url) {
      state.webhook = null;
      tts.deleteWebhook(ctx.token);
      return true;
    }
    if (!validateUrl(url) || !/^https?:/.test(url)) throw bad('bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443');
    state.webhook = { url, secret_token: params.secret_token || undefined };
    tts.setWebhook({ url }, ctx.token);
    if (boolParam(params, 'drop_pending_updates')) tts.storage.userMessages = [];
    const allowed = jsonParam(params, 'allowed_updates');
    if (Array.isArray(allowed) && allowed.length) state.allowedUpdates.set(ctx.token, allowed.map(String));
    deliverWebhooks();
    return true;
  },
  async deleteWebhook(ctx) {
    state.webhook = null;
    tts.deleteWebhook(ctx.token);
    if (boolParam(ctx.params, 'drop_pending_updates')) tts.storage.userMessages = [];
    return true;
  },
  async getWebhookInfo() {
    const info = {
      url: state.webhook ? state.webhook.url : '',
      has_custom_certificate: false,
      pending_update_count: tts.storage.userMessages.length,
    };
    if (state.webhook && state.webhook.last_error_date) {
      info.last_error_date = state.webhook.last_error_date;
      info.last_error_message = state.webhook.last_error_message;
    }
    return info;
  },

  async setMyCommands(ctx) {
    const commands = jsonParam(ctx.params, 'commands');
    if (!Array.isArray(commands)) throw bad("can't parse commands JSON object");
    if (commands.length > 100) throw bad('too many commands');
    for (const c of commands) {
      if (!c || typeof c.command !== 'string' || !/^[a-z0-9_]{1,32}$/.test(c.command)) throw bad('BOT_COMMAND_INVALID');
      if (typeof c.description !== 'string' || c.description.length < 1 || c.description.length > 256) {
        throw bad('command description is empty or too long');
      }
    }
    const key = commandsKey(ctx.params);
    if (commands.length) state.commands.set(key, commands.map((c) => ({ command: c.command, description: c.description })));
    else state.commands.delete(key);
    return true;
  },
  async getMyCommands(ctx) {
    return state.commands.get(commandsKey(ctx.params)) || [];
  },
  async deleteMyCommands(ctx) {
    state.commands.delete(commandsKey(ctx.params));
    return true;
  },
  async setChatMenuButton(ctx) {
    const button = jsonParam(ctx.params, 'menu_button') || { type: 'default' };
    state.menuButtons.set(String(ctx.params.chat_id || ''), button);
    return true;
  },
  async getChatMenuButton(ctx) {
    return state.menuButtons.get(String(ctx.params.chat_id || '')) || state.menuButtons.get('') || { type: 'commands' };
  },

  async sendMessage(ctx) {
    const { params } = ctx;
    const chat = targetChat(params);
    if (params.text === undefined || params.text === null || params.text === '') throw bad('message text is empty');
    const { text, entities } = parseFormatted(String(params.text), params.parse_mode,
      jsonParam(params, 'entities'), 4096, 'message is too long', 'message text is empty');
    const markup = validateReplyMarkup(jsonParam(params, 'reply_markup'));
    const replyTo = replyTarget(chat, params);
    floodCheck(chat);
    const msg = baseBotMessage(ctx, chat);
    if (replyTo) msg.reply_to_message = replyTo;
    msg.text = text;
    if (entities) msg.entities = entities;
    if (inlineOnly(markup)) msg.reply_markup = markup;
    const entry = addMessage(chat, 'bot', msg, ctx.token);
    entry.reply_markup_sent = markup;
    floodRecord(chat);
    return clone(msg);
  },

  async sendDocument(ctx) {
    const { params } = ctx;
    const chat = targetChat(params);
    let doc = params.document;
    if (typeof doc === 'string' && doc.startsWith('attach://')) doc = ctx.files[doc.slice(9)];
    let file;
    if (doc && typeof doc === 'object' && Buffer.isBuffer(doc.data)) {
      if (doc.data.length === 0) throw bad('file must be non-empty');
      file = storeFile(doc.data, doc.filename || 'document', doc.mimeType || 'application/octet-stream', 'documents');
    } else if (typeof doc === 'string' && state.files.has(doc)) {
      file = state.files.get(doc);
    } else if (typeof doc === 'string' && /^https?:\/\//.test(doc)) {
      const name = doc.split('/').pop().split('?')[0] || 'document';
      file = storeFile(Buffer.alloc(0), name, 'application/octet-stream', 'documents');
      file.url = doc;
    } else {
      throw bad('there is no document in the request');
    }
    let caption;
    let captionEntities;
    if (params.caption !== undefined && params.caption !== '') {
      ({ text: caption, entities: captionEntities } = parseFormatted(String(params.caption), params.parse_mode,
        jsonParam(params, 'caption_entities'), 1024, 'message caption is too long', null));
    }
    const markup = validateReplyMarkup(jsonParam(params, 'reply_markup'));
    const replyTo = replyTarget(chat, params);
    floodCheck(chat);
    const msg = baseBotMessage(ctx, chat);
    if (replyTo) msg.reply_to_message = replyTo;
    msg.document = {
      file_id: file.file_id,
      file_unique_id: file.file_unique_id,
      file_name: file.file_name,
      mime_type: file.mime_type,
      file_size: file.data.length,
    };
    if (caption) msg.caption = caption;
    if (captionEntities) msg.caption_entities = captionEntities;
    if (inlineOnly(markup)) msg.reply_markup = markup;
    addMessage(chat, 'bot', msg, ctx.token);
    floodRecord(chat);
    return clone(msg);
  },

  async getFile(ctx) {
    const file = state.files.get(String(ctx.params.file_id || ''));
    if (!file) throw bad('invalid file_id');
    return {
      file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: file.data.length, file_path: file.file_path,
    };
  },

  async editMessageText(ctx) {
    const { params } = ctx;
    const target = editTarget(ctx);
    if (params.text === undefined || params.text === '') throw bad('message text is empty');
    const { text, entities } = parseFormatted(String(params.text), params.parse_mode,
      jsonParam(params, 'entities'), 4096, 'MESSAGE_TOO_LONG', 'message text is empty');
    const markup = validateReplyMarkup(jsonParam(params, 'reply_markup'));
    if (!target) return true;
    if (target.entry.message.text === undefined) throw bad('there is no text in the message to edit');
    // like Telegram: an edit without reply_markup removes the inline keyboard
    return applyEdit(target.entry, { text, entities, reply_markup: inlineOnly(markup) });
  },
  async editMessageCaption(ctx) {
    const { params } = ctx;
    const target = editTarget(ctx);
    let caption;
    let captionEntities;
    if (params.caption) {
      ({ text: caption, entities: captionEntities } = parseFormatted(String(params.caption), params.parse_mode,
        jsonParam(params, 'caption_entities'), 1024, 'message caption is too long', null));
    }
    const markup = validateReplyMarkup(jsonParam(params, 'reply_markup'));
    if (!target) return true;
    if (target.entry.message.text !== undefined) throw bad('there is no caption in the message to edit');
    return applyEdit(target.entry, { caption, caption_entities: captionEntities, reply_markup: inlineOnly(markup) });
  },
  async editMessageReplyMarkup(ctx) {
    const target = editTarget(ctx);
    const markup = validateReplyMarkup(jsonParam(ctx.params, 'reply_markup'));
    if (!target) return true;
    return applyEdit(target.entry, { reply_markup: inlineOnly(markup) });
  },

  async deleteMessage(ctx) {
    const { params } = ctx;
    const chat = targetChat(params);
    const messageId = intParam(params, 'message_id', { required: true });
    const entry = findEntry(chat, messageId);
    if (!entry) throw bad('message to delete not found');
    if (entry.kind === 'user' && chat.type !== 'private'
        && !['administrator', 'creator'].includes(memberStatus(chat, botUser(ctx.token).id, ctx.token))) {
      throw bad("message can't be deleted");
    }
    entry.deleted = true;
    tts.storage.botMessages = tts.storage.botMessages.filter((r) => r.message !== entry.message);
    changed();
    return true;
  },

  async answerCallbackQuery(ctx) {
    const id = String(ctx.params.callback_query_id || '');
    const cb = state.callbacks.get(id);
    if (!cb || cb.answered) throw bad('query is too old and response timeout expired or query ID is invalid');
    cb.answered = true;
    cb.answer = {
      text: ctx.params.text, show_alert: boolParam(ctx.params, 'show_alert'), url: ctx.params.url,
      cache_time: intParam(ctx.params, 'cache_time'),
    };
    changed();
    return true;
  },

  async sendChatAction(ctx) {
    targetChat(ctx.params);
    if (!CHAT_ACTIONS.has(String(ctx.params.action))) throw bad('wrong parameter action in request');
    return true;
  },

  async getChat(ctx) {
    const chat = findChat(ctx.params.chat_id);
    return {
      ...chatObject(chat),
      accent_color_id: 0,
      max_reaction_count: 11,
      accepted_gift_types: {
        unlimited_gifts: false, limited_gifts: false, unique_gifts: false, premium_subscription: false,
        gifts_from_channels: false,
      },
    };
  },
  async getChatMember(ctx) {
    const chat = findChat(ctx.params.chat_id);
    const userId = intParam(ctx.params, 'user_id', { required: true });
    if (chat.type === 'private' && userId !== chat.id && userId !== botUser(ctx.token).id) throw bad('user not found');
    const status = memberStatus(chat, userId, ctx.token);
    return chatMemberObject(chat, userInfo(userId, ctx.token), status);
  },
  async getChatAdministrators(ctx) {
    const chat = findChat(ctx.params.chat_id);
    if (chat.type === 'private') throw bad('there are no administrators in the private chat');
    const result = [];
    for (const [uid, status] of chat.members) {
      if (status === 'creator' || status === 'administrator') {
        result.push(chatMemberObject(chat, userInfo(Number(uid), ctx.token), status));
      }
    }
    result.sort((a, b) => (a.status === 'creator' ? -1 : 0) - (b.status === 'creator' ? -1 : 0));
    return result;
  },
  async getChatMemberCount(ctx) {
    const chat = findChat(ctx.params.chat_id);
    if (chat.type === 'private') return 2;
    let n = 1;
    for (const [uid, status] of chat.members) {
      if (['creator', 'administrator', 'member', 'restricted'].includes(status) && Number(uid) !== botUser(ctx.token).id) n += 1;
    }
    return n;
  },
  async leaveChat(ctx) {
    const chat = findChat(ctx.params.chat_id);
    if (chat.type === 'private') throw bad('chat member status can\'t be changed in private chats');
    chat.members.set(String(botUser(ctx.token).id), 'left');
    return true;
  },
};

const METHOD_INDEX = new Map(Object.keys(METHODS).map((k) => [k.toLowerCase(), k]));
// Unknown methods answer {ok:true,result:true} (and are logged and counted), except those whose
// name promises an object (send*, get*, edit*, ...): PTB would fail to parse `true` obscurely.
const OBJECT_METHOD_RE = /^(send|get|edit|copy|forward|stop|create|upload|export|answerwebappquery|savepreparedinline)/i;

// ---------------------------------------------------------------------------------------------
// HTTP plumbing

function sendJson(res, status, body) {
  if (res.headersSent || res.destroyed) return;
  res.status(status).json(body);
}

function errorBody(err) {
  const body = { ok: false, error_code: err.code, description: err.description };
  if (err.parameters) body.parameters = err.parameters;
  return body;
}

function multipart(req, res, next) {
  if (!(req.headers['content-type'] || '').toLowerCase().startsWith('multipart/form-data')) return next();
  let bb;
  try {
    bb = Busboy({ headers: req.headers, limits: { fileSize: 60 * 1024 * 1024, fieldSize: 10 * 1024 * 1024 } });
  } catch (e) {
    sendJson(res, 400, { ok: false, error_code: 400, description: `Bad Request: ${e.message}` });
    return undefined;
  }
  const body = {};
  const files = {};
  bb.on('field', (name, value) => { body[name] = value; });
  bb.on('file', (name, stream, info) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('limit', () => { files[name] = { tooLarge: true }; });
    stream.on('end', () => {
      if (files[name] && files[name].tooLarge) return;
      files[name] = { filename: info.filename, mimeType: info.mimeType, data: Buffer.concat(chunks) };
    });
  });
  bb.on('error', (e) => sendJson(res, 400, { ok: false, error_code: 400, description: `Bad Request: ${e.message}` }));
  bb.on('close', () => {
    req.body = body;
    req.files = files;
    next();
  });
  req.pipe(bb);
  return undefined;
}

function sanitizeParams(params, files) {
  const out = {};
  for (const [k, v] of Object.entries(params)) {
    if (JSON_PARAMS.has(k) && typeof v === 'string') {
      try { out[k] = JSON.parse(v); } catch (e) { out[k] = v; }
    } else out[k] = v;
  }
  for (const [k, f] of Object.entries(files || {})) {
    out[k] = { filename: f.filename, mime_type: f.mimeType, size: f.data ? f.data.length : null };
  }
  return out;
}

function matchInjection(method, params) {
  for (const rule of state.injections) {
    if (rule.method.toLowerCase() !== method.toLowerCase() && rule.method !== '*') continue;
    if (rule.chat_id !== null && rule.chat_id !== undefined && String(rule.chat_id) !== String(params.chat_id)) continue;
    if (rule.remaining === 0) continue;
    if (rule.remaining > 0) rule.remaining -= 1;
    rule.fired += 1;
    if (rule.remaining === 0) state.injections = state.injections.filter((r) => r !== rule);
    return rule;
  }
  return null;
}

function injectedError(rule) {
  const status = rule.status;
  if (status === 429) {
    const ra = rule.retry_after || 1;
    return new ApiError(429, rule.description || `Too Many Requests: retry after ${ra}`, { retry_after: ra });
  }
  if (status === 403) return new ApiError(403, rule.description || 'Forbidden: bot was blocked by the user');
  if (status === 400 && rule.migrate_to) {
    return new ApiError(400, rule.description || 'Bad Request: group chat was upgraded to a supergroup chat', {
      migrate_to_chat_id: Number(rule.migrate_to),
    });
  }
  if (status === 400) return new ApiError(400, rule.description || 'Bad Request: injected error');
  if (status === 401) return new ApiError(401, rule.description || 'Unauthorized');
  if (status === 409) return new ApiError(409, rule.description || 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running');
  if (status >= 500) {
    const phrase = http.STATUS_CODES[status] || 'Server Error';
    return new ApiError(status, rule.description || phrase);
  }
  return new ApiError(status, rule.description || http.STATUS_CODES[status] || 'Error');
}

const app = express();
app.disable('x-powered-by');
app.set('etag', false);

const botBody = [
  express.json({ limit: '20mb' }),
  express.urlencoded({ extended: false, limit: '20mb' }),
  multipart,
];

app.all('/bot:token/:method', botBody, async (req, res) => {
  const { token } = req.params;
  const rawMethod = req.params.method;
  if (req.method !== 'GET' && req.method !== 'POST') {
    sendJson(res, 405, { ok: false, error_code: 405, description: 'Method Not Allowed' });
    return;
  }
  if (!TOKEN_RE.test(token)) {
    sendJson(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    return;
  }
  const name = METHOD_INDEX.get(rawMethod.toLowerCase()) || rawMethod;
  const files = req.files || {};
  const params = { ...req.query, ...(req.body && typeof req.body === 'object' ? req.body : {}) };
  for (const [k, f] of Object.entries(files)) params[k] = f;
  const call = {
    seq: (state.callSeq += 1), time: Date.now() / 1000, method: name, params: sanitizeParams(params, files),
    status: null,
  };
  state.calls.push(call);
  if (state.calls.length > 20000) state.calls.splice(0, state.calls.length - 20000);
  state.counters.calls[name] = (state.counters.calls[name] || 0) + 1;
  const finish = (status, body) => {
    if (res.destroyed || res.writableEnded) {
      call.status = 'aborted'; // the client went away (e.g. PTB cancelled its long poll)
      changed();
      return;
    }
    call.status = status;
    if (OPTS.verbose) log(`${name} -> ${status}${body.ok ? '' : ` ${body.description}`}`);
    call.duration = Date.now() / 1000 - call.time;
    if (!body.ok) {
      call.error = body.description;
      const errs = state.counters.errors[name] || (state.counters.errors[name] = {});
      errs[status] = (errs[status] || 0) + 1;
    } else if (name !== 'getUpdates') {
      call.result = body.result;
    }
    changed();
    sendJson(res, status, body);
  };
  try {
    const rule = matchInjection(name, params);
    if (rule && !rule.after) {
      if (rule.delay) await sleep(rule.delay * 1000);
      if (rule.disconnect) {
        call.status = 'disconnected';
        changed();
        req.socket.destroy();
        return;
      }
      if (rule.status) throw injectedError(rule);
    }
    const handler = METHODS[name];
    let result;
    if (handler) {
      result = await handler({ token, params, files }, req, res);
    } else {
      state.counters.unknown_methods[name] = (state.counters.unknown_methods[name] || 0) + 1;
      log(`unknown bot method ${name}: ${OBJECT_METHOD_RE.test(name) ? 'answered 400' : 'answered true'}`);
      if (OBJECT_METHOD_RE.test(name)) throw bad(`method ${name} is not implemented by the test emulator`);
      result = true;
    }
    if (rule && rule.after) {
      // the method took effect; now the answer is late, lost or replaced by an error
      if (rule.delay) await sleep(rule.delay * 1000);
      if (rule.disconnect) {
        call.status = 'disconnected';
        changed();
        req.socket.destroy();
        return;
      }
      if (rule.status) throw injectedError(rule);
    }
    finish(200, { ok: true, result });
  } catch (err) {
    if (err instanceof ApiError) {
      finish(err.code, errorBody(err));
    } else {
      log(`internal error in ${name}: ${err && err.stack}`);
      finish(500, { ok: false, error_code: 500, description: `Internal Server Error: ${err && err.message}` });
    }
  }
});

app.get('/file/bot:token/*', (req, res) => {
  const file = state.filesByPath.get(req.params[0]);
  if (!TOKEN_RE.test(req.params.token) || !file) {
    sendJson(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    return;
  }
  res.type(file.mime_type || 'application/octet-stream').send(file.data);
});

// ---------------------------------------------------------------------------------------------
// test control API (/_test/...)

const control = express.Router();
control.use(express.json({ limit: '20mb' }));
control.use(express.urlencoded({ extended: false }));

const ok = (res, result) => res.json({ ok: true, result: result === undefined ? true : result });
const wrap = (fn) => async (req, res) => {
  try {
    const result = await fn(req.body || {}, req.query, req, res);
    if (!res.headersSent) ok(res, result);
  } catch (err) {
    const code = err instanceof ApiError ? err.code : 500;
    if (!(err instanceof ApiError)) log(`control error: ${err && err.stack}`);
    res.status(code).json({ ok: false, error_code: code, description: err.description || String(err.message || err) });
  }
};

function commandEntities(text) {
  const entities = [];
  const re = /(^|\s)(\/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,64})?)/g;
  let m;
  while ((m = re.exec(text)) !== null) {
    const offset = m.index + m[1].length;
    entities.push({ type: 'bot_command', offset, length: m[2].length });
  }
  return entities;
}

// Build a user message in a chat and queue it as an update.
function userMessage(body, extra = {}) {
  const user = normUser(body.from !== undefined ? body.from : body.user);
  const chatSpec = body.chat !== undefined ? body.chat : user.id;
  const chat = makeChat(chatSpec, user);
  if (chat.migratedTo !== null) throw bad(`chat ${chat.id} was migrated to ${chat.migratedTo}`);
  if (chat.type !== 'private' && chat.type !== 'channel' && !chat.members.has(String(user.id))) {
    chat.members.set(String(user.id), 'member');
  }
  const msg = { message_id: 0, from: user, chat: chatObject(chat), date: nowSeconds() };
  if (body.reply_to_message_id !== undefined) {
    const target = findEntry(chat, Number(body.reply_to_message_id));
    if (!target) throw bad('message to be replied not found');
    msg.reply_to_message = clone(target.message);
  }
  Object.assign(msg, extra);
  if (body.text !== undefined) {
    msg.text = String(body.text);
    const entities = body.entities || commandEntities(msg.text);
    if (entities.length) msg.entities = entities;
  }
  if (body.caption !== undefined) msg.caption = String(body.caption);
  if (body.document) {
    const d = body.document;
    const data = Buffer.from(d.data_base64 || '', 'base64');
    const file = storeFile(data, d.file_name || 'document', d.mime_type || 'application/octet-stream', 'documents');
    msg.document = {
      file_id: file.file_id, file_unique_id: file.file_unique_id, file_name: file.file_name,
      mime_type: file.mime_type, file_size: data.length,
    };
  }
  if (msg.text === undefined && msg.document === undefined && !extra.new_chat_members && !extra.migrate_to_chat_id) {
    throw bad('a message needs text or a document');
  }
  if (body.edit_of !== undefined) throw bad('use /_test/edit');
  addMessage(chat, 'user', msg);
  const updateId = enqueueUpdate({ message: clone(msg) });
  return { update_id: updateId, message: clone(msg) };
}

control.post('/message', wrap((body) => userMessage(body)));
control.post('/command', wrap((body) => {
  const text = String(body.text || body.command || '');
  if (!text.startsWith('/')) throw bad('a command starts with "/"');
  return userMessage({ ...body, text });
}));
control.post('/forward', wrap((body) => {
  let origin = body.origin;
  const extra = {};
  let { text } = body;
  if (body.from_chat_id !== undefined) {
    const src = findChat(body.from_chat_id);
    const entry = findEntry(src, Number(body.message_id));
    if (!entry) throw bad('message to forward not found');
    text = entry.message.text;
    if (entry.message.entities) extra.entities = clone(entry.message.entities);
    if (entry.message.document) extra.document = clone(entry.message.document);
    if (!origin) {
      origin = src.type === 'channel'
        ? { type: 'channel', chat: chatObject(src), message_id: entry.message.message_id, date: entry.message.date }
        : { type: 'user', sender_user: clone(entry.message.from), date: entry.message.date };
    }
  }
  if (!origin) throw bad('forward needs "origin" or "from_chat_id" + "message_id"');
  if (!origin.date) origin = { ...origin, date: nowSeconds() };
  if (origin.type === 'user' && origin.sender_user) origin.sender_user = { is_bot: false, ...origin.sender_user };
  extra.forward_origin = origin;
  return userMessage({ ...body, text }, extra);
}));
control.post('/edit', wrap((body) => {
  // a user edits one of their messages: an edited_message update
  const chat = findChat(body.chat_id);
  const entry = findEntry(chat, Number(body.message_id));
  if (!entry || entry.kind !== 'user') throw bad('user message not found');
  entry.message.text = String(body.text);
  const ents = commandEntities(entry.message.text);
  if (ents.length) entry.message.entities = ents; else delete entry.message.entities;
  entry.message.edit_date = nowSeconds();
  const updateId = enqueueUpdate({ edited_message: clone(entry.message) });
  return { update_id: updateId, message: clone(entry.message) };
}));
control.post('/callback', wrap((body) => {
  const user = normUser(body.from !== undefined ? body.from : body.user);
  const chat = findChat(body.chat_id !== undefined ? body.chat_id : body.chat);
  const entry = findEntry(chat, Number(body.message_id));
  if (!entry) throw bad(`message ${body.message_id} not found in chat ${chat.id}`);
  let { data } = body;
  const buttons = ((entry.message.reply_markup || {}).inline_keyboard || []).flat();
  if (data === undefined && body.button_text !== undefined) {
    const b = buttons.find((x) => x.text === body.button_text);
    if (!b) throw bad(`no button "${body.button_text}" on message ${entry.message.message_id}`);
    data = b.callback_data;
  }
  if (data === undefined) throw bad('callback needs "data" or "button_text"');
  if (!body.allow_missing_button && !buttons.some((b) => b.callback_data === data)) {
    throw bad(`message ${entry.message.message_id} has no button with callback_data ${JSON.stringify(data)}`);
  }
  state.callbackSeq += 1;
  const id = `${user.id}${String(state.callbackSeq).padStart(6, '0')}`;
  const query = {
    id, from: user, message: clone(entry.message), chat_instance: stableChatInstance(chat.id), data,
  };
  state.callbacks.set(id, { query, answered: false, answer: null });
  const updateId = enqueueUpdate({ callback_query: query });
  return { update_id: updateId, callback_query_id: id };
}));
control.post('/update', wrap((body) => {
  const update = body.update || body;
  if (!update || typeof update !== 'object' || !updateType(update)) throw bad('update object expected');
  const copy = { ...update };
  delete copy.update_id;
  return { update_id: enqueueUpdate(copy) };
}));
control.post('/chat', wrap((body) => {
  const chat = makeChat(body.chat || body);
  return chatObject(chat);
}));
control.post('/admins', wrap((body) => {
  const chat = findChat(body.chat_id);
  if (chat.type === 'private') throw bad('private chats have no administrators');
  for (const [uid, status] of chat.members) {
    if (status === 'administrator' || status === 'creator') chat.members.set(uid, 'member');
  }
  for (const a of body.admins || []) {
    const u = normUser(a);
    chat.members.set(String(u.id), 'administrator');
  }
  if (body.creator !== undefined && body.creator !== null) {
    const u = normUser(body.creator);
    chat.members.set(String(u.id), 'creator');
  }
  return true;
}));
control.post('/member', wrap((body) => {
  const chat = findChat(body.chat_id);
  const u = body.user !== undefined ? body.user : body.user_id;
  const userId = typeof u === 'object' ? normUser(u).id : Number(u);
  if (!['creator', 'administrator', 'member', 'left', 'kicked'].includes(body.status)) throw bad('bad status');
  chat.members.set(String(userId), body.status);
  return true;
}));
control.post('/block', wrap((body) => {
  const chat = findChat(body.chat_id);
  chat.blocked = body.blocked === undefined ? true : Boolean(body.blocked);
  return true;
}));
control.post('/migrate', wrap((body) => {
  const chat = findChat(body.chat_id);
  if (chat.type !== 'group') throw bad('only a basic group can be upgraded to a supergroup');
  const newId = body.new_chat_id !== undefined ? Number(body.new_chat_id) : -1000000000000 + chat.id;
  const sg = makeChat({ id: newId, type: 'supergroup', title: chat.title });
  for (const [uid, st] of chat.members) sg.members.set(uid, st);
  chat.migratedTo = newId;
  if (body.notify !== false) {
    const by = body.from !== undefined ? normUser(body.from) : null;
    const from = by || { id: 1087968824, is_bot: true, first_name: 'Group', username: 'GroupAnonymousBot' };
    const m1 = { message_id: 0, from, chat: chatObject(chat), date: nowSeconds(), migrate_to_chat_id: newId };
    addMessage(chat, 'user', m1);
    enqueueUpdate({ message: clone(m1) });
    const m2 = { message_id: 0, from, chat: chatObject(sg), date: nowSeconds(), migrate_from_chat_id: chat.id };
    addMessage(sg, 'user', m2);
    enqueueUpdate({ message: clone(m2) });
  }
  return { new_chat_id: newId };
}));

function botMessagesOf(chatId, includeUser, includeDeleted) {
  const chat = state.chats.get(String(Number(chatId)));
  if (!chat) return [];
  return chat.messages
    .filter((e) => (includeUser || e.kind === 'bot') && (includeDeleted || !e.deleted))
    .map((e) => {
      const m = clone(e.message);
      if (includeUser) m._kind = e.kind; // eslint-disable-line no-underscore-dangle
      if (e.deleted) m._deleted = true; // eslint-disable-line no-underscore-dangle
      return m;
    });
}
const truthy = (v) => v === true || v === '1' || v === 'true';

control.get('/messages', wrap((b, q) => botMessagesOf(q.chat_id, truthy(q.include_user), truthy(q.include_deleted))));
control.get('/chats', wrap(() => [...state.chats.values()].map((c) => ({
  ...chatObject(c),
  blocked: c.blocked,
  migrated_to: c.migratedTo,
  members: Object.fromEntries(c.members),
  bot_messages: c.messages.filter((e) => e.kind === 'bot' && !e.deleted).length,
}))));
control.get('/documents', wrap((b, q) => {
  const chat = state.chats.get(String(Number(q.chat_id)));
  if (!chat) return [];
  return chat.messages.filter((e) => e.kind === 'bot' && !e.deleted && e.message.document).map((e) => {
    const file = state.files.get(e.message.document.file_id);
    return {
      message_id: e.message.message_id,
      file_id: file.file_id,
      file_name: file.file_name,
      mime_type: file.mime_type,
      size: file.data.length,
      caption: e.message.caption,
      url: file.url,
      data_base64: file.data.toString('base64'),
    };
  });
}));
control.get('/files/:fileId', (req, res) => {
  const file = state.files.get(req.params.fileId);
  if (!file) {
    res.status(404).json({ ok: false, error_code: 404, description: 'file not found' });
    return;
  }
  res.type(file.mime_type || 'application/octet-stream').send(file.data);
});
control.get('/calls', wrap((b, q) => state.calls
  .filter((c) => !q.method || c.method.toLowerCase() === String(q.method).toLowerCase())
  .filter((c) => q.since === undefined || c.seq > Number(q.since))));
control.get('/counters', wrap(() => ({
  ...clone(state.counters),
  pending_updates: tts.storage.userMessages.length,
  injections: state.injections.map((r) => ({ ...r })),
})));
control.get('/callback_answers', wrap(() => Object.fromEntries(
  [...state.callbacks.entries()].map(([id, cb]) => [id, cb.answered ? cb.answer : null]),
)));
control.get('/commands', wrap((b, q) => state.commands.get(commandsKey(q)) || []));
control.get('/pending_updates', wrap(() => tts.storage.userMessages.map(formatRecord)));

control.post('/inject', wrap((body) => {
  if (!body.method) throw bad('"method" is required ("*" for every method)');
  const status = body.status === undefined || body.status === null ? null : Number(body.status);
  if (status === null && !body.delay && !body.disconnect) throw bad('inject needs status, delay or disconnect');
  const times = body.times === undefined || body.times === null ? 1 : Number(body.times);
  state.injectionSeq += 1;
  const rule = {
    id: state.injectionSeq,
    method: String(body.method),
    chat_id: body.chat_id === undefined ? null : body.chat_id,
    status,
    remaining: times < 0 ? -1 : times,
    retry_after: body.retry_after === undefined ? null : Number(body.retry_after),
    migrate_to: body.migrate_to === undefined ? null : Number(body.migrate_to),
    description: body.description || null,
    delay: body.delay ? Number(body.delay) : 0,
    disconnect: Boolean(body.disconnect),
    after: Boolean(body.after),
    fired: 0,
  };
  if (rule.remaining !== 0) state.injections.push(rule);
  return rule;
}));
control.delete('/inject', wrap(() => { state.injections = []; return true; }));
control.post('/flood', wrap((body) => {
  state.flood = { ...DEFAULT_FLOOD, enabled: true, ...body };
  state.floodLog = { all: [], perChat: new Map() };
  return state.flood;
}));
control.post('/config', wrap((body) => {
  for (const k of Object.keys(body)) {
    if (!(k in DEFAULT_CONFIG)) throw bad(`unknown config key ${k}`);
  }
  Object.assign(state.config, body);
  return state.config;
}));
control.post('/reset', wrap(() => {
  const pollers = state.pollers;
  state = freshState();
  state.pollers = pollers; // long polls in flight keep waiting (update ids stay monotonic)
  changed();
  return true;
}));

// Long-poll helpers so tests wait for the bot without sleeping.
function waitFor(predicate, timeoutSeconds, res) {
  return new Promise((resolve) => {
    const check = () => {
      const v = predicate();
      if (v !== undefined) done(v);
    };
    const timer = setTimeout(() => done(undefined), Math.min(Number(timeoutSeconds) || 0, 120) * 1000);
    const onClose = () => done(undefined);
    function done(v) {
      clearTimeout(timer);
      events.off('change', check);
      res.off('close', onClose);
      resolve(v);
    }
    events.on('change', check);
    res.on('close', onClose);
    check();
  });
}
control.get('/wait_messages', wrap(async (b, q, req, res) => {
  const count = Number(q.count || 1);
  const pred = () => {
    const msgs = botMessagesOf(q.chat_id, false, false);
    return msgs.length >= count ? msgs : undefined;
  };
  const msgs = await waitFor(pred, q.timeout || 5, res);
  if (msgs === undefined) {
    const have = botMessagesOf(q.chat_id, false, false);
    const failures = state.calls.filter((c) => c.status !== null && c.status !== 200).slice(-5)
      .map((c) => `${c.method} -> ${c.status} ${c.error || ''}`.trim());
    throw new ApiError(408, `timed out waiting for ${count} bot message(s) in chat ${q.chat_id}; have ${have.length}: `
      + JSON.stringify(have.map((m) => m.text || (m.document && m.document.file_name)))
      + (failures.length ? `; last failed bot calls: ${failures.join('; ')}` : ''));
  }
  return msgs;
}));
control.get('/wait_calls', wrap(async (b, q, req, res) => {
  const count = Number(q.count || 1);
  const method = String(q.method || '').toLowerCase();
  const pred = () => {
    const calls = state.calls.filter((c) => c.method.toLowerCase() === method && c.status !== null);
    return calls.length >= count ? calls : undefined;
  };
  const calls = await waitFor(pred, q.timeout || 5, res);
  if (calls === undefined) throw new ApiError(408, `timed out waiting for ${count} completed ${q.method} call(s)`);
  return calls;
}));
control.get('/health', wrap(() => ({ pid: process.pid })));

app.use('/_test', control);

// Everything else: telegram-test-api's own app (its legacy client routes, and its
// "Route not found" answer).
app.use(tts.webServer);

// ---------------------------------------------------------------------------------------------
// start

function start(port) {
  const server = http.createServer(app);
  // keep idle connections longer than clients do, so a pooled connection is never closed under
  // a request in flight (httpx keeps them 5 s; Node's default is also 5 s: a race)
  server.keepAliveTimeout = 75 * 1000;
  server.headersTimeout = 80 * 1000;
  server.requestTimeout = 0;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

if (require.main === module) {
  start(OPTS.port).then((server) => {
    const { port } = server.address();
    process.stdout.write(`${JSON.stringify({ ready: true, port, host: '127.0.0.1', pid: process.pid })}\n`);
    log(`listening on http://127.0.0.1:${port}`);
    const shutdown = () => {
      server.close();
      server.closeAllConnections();
      process.exit(0);
    };
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
    if (OPTS.exitOnStdinClose) {
      process.stdin.on('end', shutdown);
      process.stdin.on('close', shutdown);
      process.stdin.resume();
    }
  }).catch((err) => {
    log(`cannot start: ${err.message}`);
    process.exit(1);
  });
}

module.exports = { app, start, parseHtml };
