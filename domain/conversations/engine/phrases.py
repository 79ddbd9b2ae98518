"""Everything the built-in engine says, in English and in Spanish, by one key per situation.

Spanish is the "usted" of a front office. Its wording prefers the forms that stay GSM-7 where Spanish offers a
natural choice (é, ñ, ¿ and ¡ are in the GSM 03.38 basic set; á, í, ó, ú are not): "¿Le confirmo la cita?" rather
than "Responda SÍ", "nos puede escribir" rather than "escríbanos". It never drops an accent a word needs: a reply
that must say "sábado" goes as UCS-2, inside the segment budget. ``tests/unit/test_engine_phrases.py`` checks that
both languages have every key and the same placeholders, and which Spanish phrases stay GSM-7.
"""

from __future__ import annotations

import re

from domain.conversations.engine.language import Language

PHRASES: dict[Language, dict[str, str]] = {
    "en": {
        "empty": "Hi, this is {business}! How can we help today?",
        "stop": "Understood, we won't text you again. If you need {business}, just give us a call.",
        "handoff": "Of course! I'm letting the team at {business} know, and someone will reach out to you.",
        "spanish_off": "Thanks for texting {business}! A person from our team will get back to you soon.",
        "urgent_open": "So sorry to hear that! I've flagged this as urgent for the team.",
        "urgent_closed": "So sorry to hear that! We're closed right now, but I've flagged this as urgent.",
        "cancelled": "Done, your appointment is cancelled. Text us anytime if you'd like to rebook.",
        "cancel_failed": "Hmm, I couldn't change that appointment. I'll have the team take a look.",
        "kept": "No problem, your appointment stays as it is. See you then!",
        "no_upcoming_rebook": "I don't see an upcoming appointment for this number, but I'm happy to book one.",
        "nothing_booked": "No problem, I won't book anything. Text us anytime if you need us!",
        "no_upcoming": (
            "I don't see an upcoming appointment for this number. If it's under another number, "
            "just call {business} and we'll sort it out."
        ),
        "move": "Sure, let's move your {service} on {when}.",
        "which_time": "What day or time works better for you?",
        "confirm_cancel": "I see your {service} on {when}. Want me to cancel it? (yes/no)",
        "open_hours": "We're open now! Our hours are {hours}.",
        "closed_hours": "We're closed right now. Our hours are {hours}, but I can still set up a visit by text.",
        "sorry_what": "Sorry about that! What do you need help with?",
        "clarify_two": "Happy to help! Is that for {first} or {second}?",
        "clarify_one": "Just to check, is that for {first}?",
        "clarify_which": "Sorry, which one: 1) {first} or 2) {second}?",
        "said_again": (
            "Sorry, I'm still not sure what you need. A few words about the job will do, "
            "or just ask and someone from {business} will call you."
        ),
        "not_offered": (
            "Sorry, we don't do that at {business}. We do {names}. "
            "Can I help with one of those, or would you like someone to call you?"
        ),
        "we_do": "{lead} We do {names}.",
        "price_clarify": "Sure! Is that for {first} or {second}?",
        "price_which": "Happy to help with pricing! Which service is it for?",
        "not_offering": "Sorry, we're not offering {service} right now.",
        "price": "{service} is {price}.",
        "reject_offered": "No problem! What day or time works better for you?",
        "reject_held": "No problem! Is there another day or time that works better?",
        "no_booking": "No problem! Just text us whenever you'd like to book.",
        "welcome_booked": "You're welcome! See you soon.",
        "holding": "Great, I'm holding {when} for your {service}. Shall I book it? Just reply YES.",
        "taken": "Sorry, that time was just taken.",
        "booked": "You're all set! Your {service} is booked for {when}.",
        "old_cancelled": "I've cancelled your old time.",
        "thanks_choosing": "Thanks for choosing {business}!",
        "alternatives": "{lead} I can do {labels}. Would one of those work?",
        "other_time": "{lead} What other day or time works for you?",
        "what_help": "What do you need help with?",
        "what_done": "Happy to help! What do you need done?",
        "find_time": "Want me to find you a time?",
        "nothing_then": "Sorry, nothing's open then.",
        "soonest_after": "The soonest after that is",
        "soonest": "The soonest I have is",
        "have": "I have",
        "nothing_open": "Sorry, I don't have anything open then. Is there another day or time that works?",
        "offer_one": "{opener} {label}{for_service}. Does that work?",
        "offer_many": "{opener} {labels}{for_service}. Which works best?",
        "for_service": " for your {service}",
        "nudge_offered": "Which of those times works for you? Or tell me a day and time that's better.",
        "nudge_held": "Just reply YES and I'll book it, or tell me another time that works better.",
        "welcome": "You're welcome! Text {business} anytime.",
        "didnt_catch": "Sorry, I didn't catch that. What do you need help with?",
        "ask_time": 'What day and time work best for you? Something like "tomorrow morning" is perfect.',
        "greeting": "Hi! Thanks for texting {business}. How can we help today?",
        "default": "Thanks for texting {business}! Are you looking to book a visit, or do you have a question?",
    },
    "es": {
        "empty": "¡Hola, le saluda {business}! ¿En qué le podemos ayudar?",
        "stop": "Entendido, no le volveremos a escribir. Si necesita a {business}, nos puede llamar.",
        "handoff": "¡Claro! Le aviso al equipo de {business} y alguien le va a contactar pronto.",
        "spanish_off": "¡Gracias por escribir a {business}! Una persona del equipo le va a responder pronto.",
        "urgent_open": "¡Lo siento mucho! Ya marqué esto como urgente para el equipo.",
        "urgent_closed": "¡Lo siento mucho! Ahora estamos cerrados, pero ya lo marqué como urgente.",
        "cancelled": "Listo, cancelé su cita. Si quiere otra, nos puede escribir.",
        "cancel_failed": "Uy, no pude cambiar esa cita. Le pido al equipo que la revise.",
        "kept": "Muy bien, su cita sigue igual. ¡Nos vemos!",
        "no_upcoming_rebook": "No veo ninguna cita para este teléfono, pero con gusto le hago una.",
        "nothing_booked": "Muy bien, no reservo nada. Si nos necesita, nos puede escribir.",
        "no_upcoming": (
            "No veo ninguna cita para este teléfono. Si la hizo con otro, llame a {business} y lo resolvemos."
        ),
        "move": "Claro, vamos a cambiar su {service} del {when}.",
        "which_time": "¿Qué fecha y hora le quedan mejor?",
        "confirm_cancel": "Veo su {service} del {when}. ¿Quiere que la cancele?",
        "open_hours": "¡Estamos abiertos! Nuestro horario es {hours}.",
        "closed_hours": (
            "Ahora estamos cerrados. Nuestro horario es {hours}, pero igual le puedo agendar una visita por mensaje."
        ),
        "sorry_what": "¡Disculpe! ¿Qué necesita?",
        "clarify_two": "¡Con gusto! ¿Es para {first} o para {second}?",
        "clarify_one": "Para confirmar, ¿es para {first}?",
        "clarify_which": "Disculpe, ¿es 1) {first} o 2) {second}?",
        "said_again": (
            "Disculpe, sigo sin entender qué necesita. Con unas palabras sobre el trabajo basta, "
            "o si prefiere, alguien de {business} le puede llamar."
        ),
        "not_offered": (
            "Lo siento, eso no lo hacemos en {business}. Hacemos {names}. "
            "¿Le ayudo con alguno de esos o prefiere que alguien le llame?"
        ),
        "we_do": "{lead} Hacemos {names}.",
        "price_clarify": "¡Claro! ¿Es para {first} o para {second}?",
        "price_which": "¡Con gusto le doy el precio! ¿Para qué servicio es?",
        "not_offering": "Lo siento, ahora no ofrecemos {service}.",
        "price": "{service} cuesta {price}.",
        "reject_offered": "¡No hay problema! ¿Qué fecha y hora le quedan mejor?",
        "reject_held": "¡No hay problema! ¿Qué otra fecha y hora le quedan mejor?",
        "no_booking": "¡No hay problema! Nos puede escribir cuando quiera reservar.",
        "welcome_booked": "¡De nada! Nos vemos pronto.",
        "holding": "Perfecto, le aparto el {when} para su {service}. ¿Le confirmo la cita?",
        "taken": "Lo siento, esa hora se acaba de ocupar.",
        "booked": "¡Listo! Reservé su {service} para el {when}.",
        "old_cancelled": "Ya cancelé su hora anterior.",
        "thanks_choosing": "¡Gracias por elegir a {business}!",
        "alternatives": "{lead} Tengo {labels}. ¿Le sirve alguna?",
        "other_time": "{lead} ¿Qué otra fecha y hora le quedan bien?",
        "what_help": "¿En qué le podemos ayudar?",
        "what_done": "¡Con gusto! ¿Qué necesita?",
        "find_time": "¿Quiere que le busque una hora?",
        "nothing_then": "Lo siento, no hay nada libre en ese horario.",
        "soonest_after": "Lo primero que tengo después de eso es",
        "soonest": "Lo primero que tengo es",
        "have": "Tengo",
        "nothing_open": "Lo siento, no tengo nada libre en ese horario. ¿Le sirve otra fecha u hora?",
        "offer_one": "{opener} {label}{for_service}. ¿Le sirve?",
        "offer_many": "{opener} {labels}{for_service}. ¿Qué hora prefiere?",
        "for_service": " para su {service}",
        "nudge_offered": "¿Le sirve alguna de esas horas? Si no, me puede decir otra fecha y hora.",
        "nudge_held": "¿Le confirmo la cita? O si prefiere otra hora, me la puede decir.",
        "welcome": "¡De nada! Puede escribir a {business} cuando quiera.",
        "didnt_catch": "Disculpe, no estoy seguro de entender. ¿Qué necesita?",
        "ask_time": '¿Qué fecha y hora le quedan mejor? Algo como "mañana en la mañana" es perfecto.',
        "greeting": "¡Hola! Gracias por escribir a {business}. ¿En qué le podemos ayudar?",
        "default": "¡Gracias por escribir a {business}! ¿Quiere agendar una visita o tiene alguna pregunta?",
    },
}


_DOUBLE_STOP = re.compile(r"(?<=[ap]\. m\.)\.")


def phrase(language: Language, key: str, **values: str) -> str:
    # "a. m." ends a sentence with its own period: "para el lunes 9:00 a. m.", not "a. m..".
    return _DOUBLE_STOP.sub("", PHRASES[language][key].format(**values))
