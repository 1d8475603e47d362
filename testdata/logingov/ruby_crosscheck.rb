# Cross-check of legacy/logingov against Ruby's OpenSSL, JSON and Base64,
# the libraries Login.gov's identity-idp uses. Written from
# shared/context/logingov-pii-format.md (sections 4 to 9), like the Go
# generator, but in Login.gov's language: AES-256-GCM through
# OpenSSL::Cipher with auth_data "PII", Base64.strict_encode64, to_json,
# the scrypt gem's hash_secret steps (cost read as hex, "00" pairs stripped
# from the hex salt) over OpenSSL::KDF.scrypt, and chunking with Login.gov's
# regular expression.
#
# It (1) opens every local-mode (LOCc and unprefixed) "ok" vector of
# vectors.json, which the Go generator wrote, and checks the plaintext;
# (2) writes ruby-values.json: values Ruby wrote, which
# TestRubyWrittenValuesOpen opens with the Go reader.
#
# CI runs it on every change (.ci/run); by hand (needs ruby with openssl,
# json, base64; no gems):
#   ruby testdata/logingov/ruby_crosscheck.rb
# Synthetic identities only.
require 'openssl'
require 'json'
require 'base64'
require 'digest'

DIR = File.dirname(__FILE__)

def hash_secret(secret, salt_with_cost, key_len)
  raise 'invalid salt' unless salt_with_cost =~ /\A[0-9a-z]+\$[0-9a-z]+\$[0-9a-z]+\$[A-Za-z0-9]{16,64}\z/
  n, r, p, salt = salt_with_cost.split('$')
  salt = salt.sub(/\A(00)+/, '')
  OpenSSL::KDF.scrypt(secret, salt: [salt].pack('H*'), N: n.to_i(16), r: r.to_i(16), p: p.to_i(16), length: key_len).unpack1('H*')
end

def pii_key(secret, salt, cost)
  [hash_secret(secret, cost + Digest::SHA256.hexdigest(salt), 32)].pack('H*')
end

def aes_encrypt(plaintext, key)
  c = OpenSSL::Cipher.new('aes-256-gcm').encrypt
  c.key = key[0...32]
  iv = c.random_iv
  c.auth_data = 'PII'
  ct = c.update(plaintext) + c.final
  { iv: Base64.strict_encode64(iv), ciphertext: Base64.strict_encode64(ct), tag: Base64.strict_encode64(c.auth_tag) }.to_json
end

def aes_decrypt(json, key)
  h = JSON.parse(json)
  c = OpenSSL::Cipher.new('aes-256-gcm').decrypt
  c.key = key[0...32]
  c.iv = Base64.strict_decode64(h['iv'])
  c.auth_tag = Base64.strict_decode64(h['tag'])
  c.auth_data = 'PII'
  c.update(Base64.strict_decode64(h['ciphertext'])) + c.final
end

def fingerprint(text, key)
  OpenSSL::HMAC.hexdigest('SHA256', key, text)
end

def aes_encryptor_encrypt(plaintext, key, fp_key)
  payload = Base64.strict_encode64(plaintext) + '.' + Base64.strict_encode64(fingerprint(plaintext, fp_key))
  Base64.strict_encode64(aes_encrypt(payload, key))
end

def aes_encryptor_decrypt(e, key, fp_keys)
  payload = aes_decrypt(Base64.strict_decode64(e), key)
  text, fp = payload.split('.', 2)
  text = Base64.strict_decode64(text)
  raise 'fingerprint' unless fp_keys.any? { |k| fingerprint(text, k) == Base64.strict_decode64(fp) }
  text
end

def local_key(pepper, context)
  OpenSSL::HMAC.digest('SHA256', pepper, context.to_a.flatten.sort.join)
end

def chunk(text)
  n = text.bytesize
  size = n / (n / 4096 + 1)
  text.scan(/.{1,#{size}}/m)
end

def context(uuid)
  { 'context' => 'pii-encryption', 'user_uuid' => uuid }
end

def encrypt(plaintext, secret, uuid, layer, pepper, fp_key, cost)
  salt = SecureRandom.hex(32)
  a = aes_encrypt(plaintext, pii_key(secret, salt, cost))
  w = if layer == 'LOCc'
        k = local_key(pepper, context(uuid))
        'LOCc' + chunk(a).map { |c| Base64.strict_encode64(aes_encryptor_encrypt(c, k, fp_key)) }.to_json
      else
        aes_encryptor_encrypt(a, pepper[0...32], fp_key)
      end
  { encrypted_data: Base64.strict_encode64(w), salt: salt, cost: cost }.to_json
end

def decrypt(stored, secret, uuid, pepper, fp_keys)
  h = JSON.parse(stored)
  w = Base64.strict_decode64(h['encrypted_data'])
  a = if w.start_with?('LOCc')
        k = local_key(pepper, context(uuid))
        JSON.parse(w[4..]).map { |e| aes_encryptor_decrypt(Base64.strict_decode64(e), k, fp_keys) }.join
      else
        aes_encryptor_decrypt(w, pepper[0...32], fp_keys)
      end
  aes_decrypt(a, pii_key(secret, h['salt'], h['cost'])).force_encoding('UTF-8')
end

def normalize(pk)
  s = pk.gsub(/\W/, '')
  return nil unless s.length == 16
  s = s.upcase.tr('ILO', '110')
  return nil unless s =~ /\A[0-9A-HJKMNP-TV-Z]{16}\z/
  s.scan(/.{4}/).join(' ')
end

require 'securerandom'
vec = JSON.parse(File.read(File.join(DIR, 'vectors.json')))
pepper = vec['pepper']
fps = vec['fingerprint_keys']
opened = 0
vec['vectors'].each do |v|
  next unless v['want'] == 'ok' && %w[LOCc local].include?(v['layer'])
  secret = v['secret_kind'] == 'personal_key' ? normalize(v['secret']) : v['secret']
  got = decrypt(v['stored'], secret, v['uuid'], pepper, fps)
  raise "ruby: #{v['name']}: plaintext differs" unless got == v['plaintext']
  opened += 1
end
raise 'ruby opened no Go vector' if opened.zero?

jane = { first_name: 'Jane', middle_name: 'Q', last_name: 'Sample', address1: '123 Example St', address2: nil,
         city: 'Springfield', state: 'VA', zipcode: '22150', ipp_current_address_matches_id: true,
         identity_doc_address1: nil, identity_doc_address2: nil, identity_doc_city: nil, identity_doc_zipcode: nil,
         state_id_jurisdiction: 'VA', identity_doc_address_state: nil, ssn: '900123456', dob: '1980-02-29',
         phone: '+1 202-555-0143', issuing_country_code: 'US', otp: nil, same_address_as_id: nil,
         prev_address1: nil, prev_address2: nil, prev_city: nil, prev_state: nil, prev_zipcode: 'Zoë <&>' }.to_json
big = JSON.parse(jane).merge('x_synthetic_padding' => 'padding ' * 800).to_json
pk = 'ABCD-EFGH-JKMN-PQRS'
out = []
[['0b0d5b8e-6a3c-4e2a-9d57-1f0c2a4b7e91', 'LOCc'], ['f3a1c2d4-5e6f-4a8b-9c0d-1e2f3a4b5c6d', 'LOCc'],
 ['0b0d5b8e-6a3c-4e2a-9d57-1f0c2a4b7e91', 'local']].each do |uuid, layer|
  [['password', 'correct horse battery staple'], ['personal_key', pk.downcase]].each do |kind, typed|
    secret = kind == 'password' ? typed : normalize(typed)
    [jane, big].each do |pt|
      stored = encrypt(pt, secret, uuid, layer, pepper, fps[0], '800$8$1$')
      raise 'ruby round trip' unless decrypt(stored, secret, uuid, pepper, fps) == pt
      out << { name: "ruby #{layer} #{kind} #{pt.bytesize} bytes", uuid: uuid, secret_kind: kind, secret: typed,
               layer: layer, stored: stored, want: 'ok', plaintext: pt }
    end
  end
end
null = encrypt('null', normalize(pk), out[0][:uuid], 'LOCc', pepper, fps[0], '800$8$1$')
out << { name: 'ruby LOCc null personal-key copy', uuid: out[0][:uuid], secret_kind: 'personal_key', secret: pk,
         layer: 'LOCc', stored: null, want: 'no_pii' }
# CI writes to a temporary file (RUBY_VALUES_OUT) and has the Go test read
# it (PIIVAULT_RUBY_VALUES), leaving the committed file alone.
File.write(ENV['RUBY_VALUES_OUT'] || File.join(DIR, 'ruby-values.json'), JSON.pretty_generate(
  comment: "Written by ruby_crosscheck.rb (#{RUBY_DESCRIPTION}, #{OpenSSL::OPENSSL_LIBRARY_VERSION}). Synthetic identities only.",
  pepper: pepper, fingerprint_keys: fps, vectors: out) + "\n")
puts "ruby opened #{opened} Go-written local-mode vectors; wrote #{out.size} values"
